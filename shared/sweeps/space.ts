import { Type, type Static } from '@sinclair/typebox';
import { Invalid } from '../core/errors.js';
import { compile, S } from '../core/validation.js';

/** docs/api.md#experiments: at most this many trials in a sweep (for grid, combinations). */
export const MAX_TRIALS = 1000;

const value = Type.Union([Type.Number(), Type.String({ maxLength: 200 })]);
const range = S.object({
  min: Type.Number(),
  max: Type.Number(),
  log: Type.Optional(Type.Boolean()),
  int: Type.Optional(Type.Boolean()),
});

/** One parameter: a list of 1–100 values, or a range. */
export const parameterSchema = Type.Union([Type.Array(value, { minItems: 1, maxItems: 100 }), range]);
const PARAMETER_NAME = '^[a-z_]{1,50}$';
export const spaceSchema = Type.Record(Type.String({ pattern: PARAMETER_NAME }), parameterSchema, { minProperties: 1, maxProperties: 10 });

export type Value = Static<typeof value>;
export type Range = Static<typeof range>;
export type Parameter = Static<typeof parameterSchema>;
export type Space = Record<string, Parameter>;
export type Point = Record<string, Value>;
export type Strategy = 'grid' | 'random';

const checkSpace = compile(spaceSchema);
const isRange = (p: Parameter): p is Range => !Array.isArray(p);

/**
 * The space as the body gave it, checked past what the schema says: a range's `min < max`, `log`
 * only above 0, `int` bounds holding an integer. Throws Invalid naming the parameter.
 */
export function validSpace(space: unknown): Space {
  const checked = checkSpace(space, 'field "space"') as Space;
  for (const [name, p] of Object.entries(checked)) {
    if (!new RegExp(PARAMETER_NAME).test(name)) throw new Invalid(`parameter name "${name}" must match ${PARAMETER_NAME}`);
    if (!isRange(p)) continue;
    if (!(p.min < p.max)) throw new Invalid(`parameter "${name}" has min ${p.min} not below max ${p.max}`);
    if (p.log && p.min <= 0) throw new Invalid(`parameter "${name}" is log-scaled, so its min must be above 0 (it is ${p.min})`);
    if (p.int && Math.floor(p.max) < Math.ceil(p.min)) throw new Invalid(`parameter "${name}" is int but holds no integer between ${p.min} and ${p.max}`);
  }
  return checked;
}

/** The strategy the body asked for, or the default: grid when every parameter is a list. */
export function strategyOf(space: Space, asked?: Strategy): Strategy {
  const allLists = Object.values(space).every((p) => !isRange(p));
  if (asked === 'grid' && !allLists) {
    const ranged = Object.keys(space).filter((k) => isRange(space[k] as Parameter));
    throw new Invalid(`a grid needs a list of values for every parameter; ${ranged.join(', ')} ${ranged.length === 1 ? 'is a range' : 'are ranges'} (use strategy random)`);
  }
  return asked ?? (allLists ? 'grid' : 'random');
}

/** How many points a grid over `space` has (lists only). */
export function gridSize(space: Space): number {
  return Object.values(space).reduce((n, p) => n * (isRange(p) ? 1 : p.length), 1);
}

/**
 * The sweep's points, in trial order. Grid: every combination, the first parameter varying
 * slowest; `trials`, if given, must equal their number. Random: `trials` draws from `random`
 * (ranges uniformly, or log-uniformly with `log`, rounded with `int`; lists uniformly).
 */
export function planPoints(space: Space, strategy: Strategy, trials: number | undefined, random: () => number): Point[] {
  if (strategy === 'grid') {
    const size = gridSize(space);
    if (size > MAX_TRIALS) throw new Invalid(`the grid has ${size} combinations; a sweep holds at most ${MAX_TRIALS} trials`);
    if (trials !== undefined && trials !== size) throw new Invalid(`the grid has ${size} combinations, so trials must be ${size} or left out (it is ${trials})`);
    return grid(space);
  }
  if (trials === undefined) throw new Invalid('a random sweep needs "trials" (1 to 1000)');
  return Array.from({ length: trials }, () => draw(space, random));
}

function grid(space: Space): Point[] {
  let points: Point[] = [{}];
  for (const [name, p] of Object.entries(space)) {
    const values = p as Value[];
    points = points.flatMap((point) => values.map((v) => ({ ...point, [name]: v })));
  }
  return points;
}

function draw(space: Space, random: () => number): Point {
  const point: Point = {};
  for (const [name, p] of Object.entries(space)) {
    if (!isRange(p)) {
      point[name] = p[Math.min(p.length - 1, Math.floor(random() * p.length))] as Value;
      continue;
    }
    if (p.int) {
      const lo = Math.ceil(p.min);
      const hi = Math.floor(p.max);
      const x = p.log ? Math.exp(Math.log(lo) + random() * (Math.log(hi + 1) - Math.log(lo))) : lo + random() * (hi + 1 - lo);
      point[name] = Math.min(hi, Math.max(lo, Math.floor(x)));
      continue;
    }
    const x = p.log ? Math.exp(Math.log(p.min) + random() * (Math.log(p.max) - Math.log(p.min))) : p.min + random() * (p.max - p.min);
    // Rounding at the ends of a log range may step just outside it.
    point[name] = Math.min(p.max, Math.max(p.min, x));
  }
  return point;
}

/**
 * A seeded generator (mulberry32): a sweep's points are drawn once, at creation, from a seed kept
 * with it, so the same seed gives the same points (tests draw with a fixed one).
 */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
