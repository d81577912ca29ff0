import { Forbidden } from '../core/errors.js';

/** One `bytes=` range of a file of `size` bytes, or undefined for the whole file. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw new Forbidden(`Range "${header}" is not a single bytes=start-end range`);
  let start: number;
  let end: number;
  if (m[1] === '') {
    // bytes=-N: the last N bytes
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) throw new Forbidden(`Range "${header}" is not satisfiable: the file has ${size} bytes`);
  return { start, end };
}
