import { Invalid } from '../core/errors.js';

/** Exact amounts: cpu in thousandths of a core, gpu and ram (Mi) and rom (bytes) as integers. */
export interface Amounts {
  cpu: number;
  gpu: number;
  ram: number;
  rom: number;
}

export const KINDS = ['cpu', 'gpu', 'ram', 'rom'] as const;
export const ZERO: Amounts = { cpu: 0, gpu: 0, ram: 0, rom: 0 };

/** From the API's units (cpu in cores) to exact integers; refuses what cannot be kept exactly. */
export function toExact(api: { cpu?: number; gpu?: number; ram?: number; rom?: number }): Amounts {
  const milli = Math.round((api.cpu ?? 0) * 1000);
  if (Math.abs(milli - (api.cpu ?? 0) * 1000) > 1e-6) throw new Invalid(`cpu ${api.cpu} has more than 3 decimals; amounts are kept in thousandths of a core`);
  return { cpu: milli, gpu: api.gpu ?? 0, ram: api.ram ?? 0, rom: api.rom ?? 0 };
}

export function toApi(a: Amounts): Amounts {
  return { cpu: a.cpu / 1000, gpu: a.gpu, ram: a.ram, rom: a.rom };
}

export const add = (a: Amounts, b: Amounts): Amounts => ({ cpu: a.cpu + b.cpu, gpu: a.gpu + b.gpu, ram: a.ram + b.ram, rom: a.rom + b.rom });
export const sub = (a: Amounts, b: Amounts): Amounts => ({ cpu: a.cpu - b.cpu, gpu: a.gpu - b.gpu, ram: a.ram - b.ram, rom: a.rom - b.rom });
export const equal = (a: Amounts, b: Amounts): boolean => KINDS.every((k) => a[k] === b[k]);
/** Kinds where `need` exceeds `have`. */
export const exceeding = (need: Amounts, have: Amounts): (typeof KINDS)[number][] => KINDS.filter((k) => need[k] > have[k]);

/** Plain words for amounts in API units, e.g. "cpu 1.5, ram 2000". */
export function describe(a: Amounts, kinds: readonly (typeof KINDS)[number][] = KINDS): string {
  const api = toApi(a);
  return kinds.map((k) => `${k} ${api[k]}`).join(', ');
}
