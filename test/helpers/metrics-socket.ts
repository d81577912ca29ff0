import WebSocket from 'ws';

/** How long a test waits for metrics or a close before it fails. */
export const WAIT_MS = 20_000;

export interface MetricsSocket<M> {
  ws: WebSocket;
  /** Every message received so far, parsed. */
  got: M[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once n messages arrived; fails after WAIT_MS. */
  until(n: number): Promise<void>;
}

/** A metrics WebSocket; rejects with "refused with <status>" when the upgrade is refused. */
export function openMetricsSocket<M>(url: string): Promise<MetricsSocket<M>> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const got: M[] = [];
    const waiters: (() => void)[] = [];
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: String(reason) })));
    ws.on('message', (data) => {
      got.push(JSON.parse(String(data)) as M);
      for (const w of waiters.splice(0)) w();
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused with ${res.statusCode}`)));
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        got,
        closed,
        async until(n) {
          const deadline = Date.now() + WAIT_MS;
          while (got.length < n) {
            if (Date.now() > deadline) throw new Error(`only ${got.length} of ${n} metrics arrived`);
            await new Promise<void>((r) => {
              waiters.push(r);
              setTimeout(r, 200);
            });
          }
        },
      }),
    );
  });
}
