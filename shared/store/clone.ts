/**
 * A deep copy of a stored document, as the embedded store hands them out (callers may change what
 * they get). Documents are JSON-like: plain objects, arrays and primitives are copied here, anything
 * else (a Date, a Buffer) by structuredClone. structuredClone of the whole document cost about 5×
 * as much per read, two of them on every API request (the user, then the object).
 */
export function cloneDoc<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(cloneDoc) as T;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = cloneDoc((value as Record<string, unknown>)[key]);
  return out as T;
}
