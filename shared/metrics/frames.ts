import type { WebSocket } from 'ws';

/** Messages for a job's sockets, made once for all of them: as text, and as WebSocket frames back to back. */
export interface Framed {
  texts: string[];
  frames: Buffer;
}

/**
 * Each message as a server's text frame (RFC 6455 §5.2: final, not masked, not compressed), all
 * in one buffer: several messages then cost a socket one write, not one each.
 */
export function framed(texts: string[]): Framed {
  const payloads = texts.map((t) => Buffer.from(t, 'utf8'));
  let size = 0;
  for (const p of payloads) size += p.length + (p.length < 126 ? 2 : p.length < 65_536 ? 4 : 10);
  const frames = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of payloads) {
    frames[at++] = 0x81; // FIN, opcode 1 (text)
    if (p.length < 126) frames[at++] = p.length;
    else if (p.length < 65_536) {
      frames[at++] = 126;
      at = frames.writeUInt16BE(p.length, at);
    } else {
      frames[at++] = 127;
      at = frames.writeBigUInt64BE(BigInt(p.length), at);
    }
    at += p.copy(frames, at);
  }
  return { texts, frames };
}

/** What `ws` keeps of a connection and does not type: the socket under it. */
type Raw = { _socket?: { write(data: Buffer): boolean } };

/**
 * Sends the messages in order. A socket without extensions (no compression negotiated) gets the
 * frames in one write to its connection: `ws` writes such a frame straight to the connection as
 * well (node_modules/ws/lib/sender.js, sendFrame), so frames written here keep their order with
 * its own, and its bufferedAmount counts them. Any other socket (compressed, or not a `ws` one)
 * gets ws.send per message.
 */
export function sendFramed(ws: WebSocket, out: Framed): void {
  const raw = (ws as unknown as Raw)._socket;
  if (raw && typeof raw.write === 'function' && ws.extensions === '') {
    raw.write(out.frames);
    return;
  }
  for (const text of out.texts) ws.send(text);
}
