// The WebSocket clients of scripts/bench/relay.ts, in a process of their own so that what the
// benchmark measures is the relay, not its clients. Lean on purpose: the upgrade through
// node:http, then each socket's frames counted as they come (a server's frames are not masked);
// every SAMPLE-th socket parses its metrics for the latency, the time of publishing being the
// metric's `loss` (ms since the epoch, performance.timeOrigin + performance.now(): one machine,
// one clock). Driven over IPC:
//   → { open: url, clients }   ← { opened }
//   ← { progress: fewest messages any socket got } as it grows
//   → { report: true }         ← { counts, latencies, outOfOrder }
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';

const SAMPLE = 10;
const now = () => performance.timeOrigin + performance.now();

interface Client {
  count: number;
  lastEpoch: number;
  pending: Buffer | undefined;
}

const clients: Client[] = [];
const latencies: number[] = [];
let outOfOrder = 0;

function open(url: string, index: number): Promise<void> {
  const client: Client = { count: 0, lastEpoch: -1, pending: undefined };
  clients.push(client);
  const sample = index % SAMPLE === 0;
  return new Promise((resolve, reject) => {
    const req = request(url.replace(/^ws/, 'http'), {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') },
    });
    req.on('error', reject);
    req.on('response', (res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    req.on('upgrade', (_res, socket: Duplex, head: Buffer) => {
      const onData = (chunk: Buffer) => {
        const buf = client.pending ? Buffer.concat([client.pending, chunk]) : chunk;
        let at = 0;
        for (;;) {
          if (buf.length - at < 2) break;
          let len = (buf[at + 1] as number) & 0x7f;
          let header = 2;
          if (len === 126) {
            if (buf.length - at < 4) break;
            len = buf.readUInt16BE(at + 2);
            header = 4;
          } else if (len === 127) {
            if (buf.length - at < 10) break;
            len = Number(buf.readBigUInt64BE(at + 2));
            header = 10;
          }
          if (buf.length - at < header + len) break;
          const opcode = (buf[at] as number) & 0x0f;
          if (opcode === 1) {
            client.count++;
            if (sample) {
              const m = JSON.parse(buf.toString('utf8', at + header, at + header + len)) as { epoch: number; loss: number };
              latencies.push(now() - m.loss);
              if (m.epoch <= client.lastEpoch) outOfOrder++;
              client.lastEpoch = m.epoch;
            }
          }
          at += header + len;
        }
        client.pending = at < buf.length ? buf.subarray(at) : undefined;
        progress();
      };
      if (head.length > 0) onData(head);
      socket.on('data', onData);
      socket.on('error', () => {});
      resolve();
    });
    req.end();
  });
}

/** This process's CPU time when its sockets were open: what receiving costs is counted from there. */
let cpuAtOpen: NodeJS.CpuUsage | undefined;
let reporting = false;
let reported = -1;
/** Progress goes to the parent once per turn of the event loop in which some socket got data. */
function progress(): void {
  if (reporting) return;
  reporting = true;
  setImmediate(() => {
    reporting = false;
    const n = fewest();
    if (n !== reported) process.send?.({ progress: (reported = n) });
  });
}

const fewest = () => clients.reduce((min, c) => Math.min(min, c.count), Number.POSITIVE_INFINITY);

process.on('message', async (msg: { open?: string; clients?: number; report?: boolean }) => {
  if (msg.open) {
    for (let i = 0; i < (msg.clients ?? 1); i++) await open(msg.open, i);
    cpuAtOpen = process.cpuUsage();
    process.send?.({ opened: clients.length });
  }
  if (msg.report) {
    const cpu = process.cpuUsage(cpuAtOpen);
    process.send?.({ counts: clients.map((c) => c.count), latencies, outOfOrder, cpuUs: cpu.user + cpu.system }, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
