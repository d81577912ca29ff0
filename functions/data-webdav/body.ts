import { Forbidden, MalformedBody } from '../../shared/core/errors.js';
import type { StreamInput } from '../../shared/routes/route.js';
import { MAX_BODY } from '../../shared/webdav/deadprops.js';

/** A small request body (PROPFIND, PROPPATCH) as text, at most MAX_BODY bytes (403 beyond). */
export async function readBody(input: StreamInput, method: string): Promise<string> {
  const tooBig = () => new Forbidden(`a ${method} body is at most ${MAX_BODY} bytes`);
  const declared = Number(input.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > MAX_BODY) throw tooBig();
  if (!hasBody(input)) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw tooBig();
    chunks.push(chunk);
  }
  const text = new TextDecoder('utf-8', { fatal: true });
  try {
    return text.decode(Buffer.concat(chunks));
  } catch {
    throw new MalformedBody(`the ${method} body is not UTF-8`);
  }
}

export function hasBody(input: StreamInput): boolean {
  const length = input.headers['content-length'];
  return (length !== undefined && length !== '0') || input.headers['transfer-encoding'] !== undefined;
}
