import { toApi } from './amounts.js';
import type { TenantDoc } from './resource-manager.js';

/** A tenant as the API shows it (docs/api.md#resources): capacity and what is in use, in the API's units. */
export interface TenantView {
  name: string;
  cpu: number;
  gpu: number;
  ram: number;
  rom: number;
  cpu_inuse: number;
  gpu_inuse: number;
  ram_inuse: number;
  rom_inuse: number;
  created_at: string;
  updated_at: string;
}

export function tenantView(t: TenantDoc): TenantView {
  const cap = toApi(t.capacity);
  const use = toApi(t.inuse);
  return {
    name: t.name,
    ...cap,
    cpu_inuse: use.cpu,
    gpu_inuse: use.gpu,
    ram_inuse: use.ram,
    rom_inuse: use.rom,
    created_at: t.created_at,
    updated_at: t.updated_at,
  };
}
