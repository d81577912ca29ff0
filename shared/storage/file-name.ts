/**
 * The rule for a file's name: each segment of a file path inside a dataset or home is 1–255 bytes
 * of UTF-8 without "/", NUL or control characters, and is not "." or "..". The `mlp` client and
 * the browser UI check it before they upload (and the client before it writes a listed name to
 * disk); the server's WebDAV (shared/webdav/target.ts) refuses the same names.
 * Plain TypeScript with no Node imports: the UI bundle imports it too.
 */

/** C0 controls (NUL among them), DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** A lone surrogate: a string with one cannot be UTF-8. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * What is wrong with one segment of a path (already percent-decoded once), or undefined. The
 * answer continues a sentence "the name … ", and the caller adds the rule above.
 */
export function segmentProblem(segment: string): string | undefined {
  if (LONE_SURROGATE.test(segment)) return 'is not UTF-8';
  const bytes = new TextEncoder().encode(segment).length;
  if (bytes < 1) return 'is empty';
  if (bytes > 255) return `is ${bytes} bytes; a name is at most 255`;
  if (segment.includes('/')) return 'holds a "/"';
  if (CONTROL.test(segment)) return 'holds a NUL or control character';
  if (segment === '.' || segment === '..') return `is "${segment}"`;
  // Decoded once, it must not still be an encoding of "." / ".." / a separator or control
  // character: something along the way (a proxy, a client) would decode it again.
  let again: string;
  try {
    again = decodeURIComponent(segment);
  } catch {
    return undefined;
  }
  if (again !== segment && (again === '.' || again === '..' || /[/\\]/.test(again) || CONTROL.test(again))) return 'is percent-encoded twice';
  return undefined;
}
