import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Scripted {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** An upstream that records what the gateway sends and answers as the test scripts it. */
export interface FakeUpstream {
  address: string;
  seen: Seen[];
  close(): Promise<void>;
}

export async function startFakeUpstream(answer: (req: Seen) => Scripted): Promise<FakeUpstream> {
  const seen: Seen[] = [];
  const upgraded = new Set<import('node:stream').Duplex>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const record = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      seen.push(record);
      const a = answer(record);
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(a.body ?? '');
    });
  });
  // WebSocket-style upgrades: switch protocols and echo what arrives, upper-cased.
  server.on('upgrade', (req: http.IncomingMessage, socket: import('node:stream').Duplex) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' });
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    upgraded.add(socket);
    socket.on('data', (d: Buffer) => socket.write(d.toString().toUpperCase()));
    // A reset from the gateway when the test ends the socket is expected; nothing to report.
    socket.on('error', () => socket.destroy());
    socket.on('close', () => upgraded.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve, reject) => {
        for (const socket of upgraded) socket.destroy();
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
