import http from 'node:http';

/**
 * An app's upstream as the orchestrator names it (orchestrator/port.ts endpoint): 'host:port', or
 * 'unix:/path/to/socket:' for a server on a Unix socket — nginx's own form, so the generated
 * config passes it to proxy_pass unchanged. Answers what node:http needs to connect.
 */
export function upstreamTarget(upstream: string): { socketPath: string } | { host: string; port: number } {
  const unix = /^unix:(\/.+):$/.exec(upstream);
  if (unix?.[1]) return { socketPath: unix[1] };
  const i = upstream.lastIndexOf(':');
  const port = Number(upstream.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new TypeError(`not an app upstream: ${upstream.slice(0, 200)}`);
  return { host: upstream.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
}

/** One whole request to an app's server (small bodies, whole answers): what fetch() does for a TCP address. */
export function requestUpstream(upstream: string, o: { method: string; path: string; headers: http.OutgoingHttpHeaders; body?: string; timeoutMs: number }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers = o.body === undefined ? o.headers : { ...o.headers, 'content-length': Buffer.byteLength(o.body) };
    const req = http.request({ ...upstreamTarget(upstream), method: o.method, path: o.path, headers, timeout: o.timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode ?? 503, text: Buffer.concat(chunks).toString('utf8') }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs / 1000} s`)));
    req.once('error', reject);
    req.end(o.body);
  });
}
