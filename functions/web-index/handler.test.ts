import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { createRouter } from '../../shared/http/router.js';
import { createFaasServer } from '../../shared/http/server.js';
import { pageReplier } from '../../shared/web/page.js';
import { buildPage } from '../../test/helpers/bundles.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { servePage } from './handler.js';
import route from './route.js';

// The page built once for this file, into a folder of its own.
const handle = servePage(pageReplier([buildPage(t)]));

t.test('serves the built UI page without a token, cached by ETag, with a strict CSP', async (t) => {
  const deps = await testDeps(t);
  const page = await invoke(route, handle, deps, { path: '/' });
  t.equal(page.status, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.body, /<main id="main"/);
  // The SVG namespace is a name, not an address: nothing is loaded from it.
  t.notMatch(String(page.body).replaceAll('http://www.w3.org/2000/svg', ''), /https?:\/\//, 'the page loads nothing from another origin');
  t.match(page.headers['content-security-policy'], /script-src 'sha256-[A-Za-z0-9+/=]+'/, "only the page's own script runs");
  t.equal(page.headers['cache-control'], 'no-cache');
  const again = await invoke(route, handle, deps, { path: '/', headers: { 'if-none-match': page.headers.etag ?? '' } });
  t.equal(again.status, 304, 'an unchanged page is not sent again');
  t.equal(again.body, '');
});

t.test('a browser that accepts gzip gets the page compressed, with its own ETag', async (t) => {
  const deps = await testDeps(t);
  const plain = await invoke(route, handle, deps, { path: '/' });
  const res = await fetchThroughServer(deps, { 'accept-encoding': 'gzip, deflate, br' });
  t.equal(res.headers['content-encoding'], 'gzip');
  t.equal(res.headers.vary, 'accept-encoding');
  t.not(res.headers.etag, plain.headers.etag, 'the compressed page has its own ETag');
  const html = gunzipSync(res.body).toString('utf8');
  t.equal(html, plain.body, 'it unpacks to the same page');
  t.ok(res.body.length < Buffer.byteLength(html) / 2, `smaller by half at least (${res.body.length} of ${Buffer.byteLength(html)} bytes)`);
  const again = await fetchThroughServer(deps, { 'accept-encoding': 'gzip', 'if-none-match': res.headers.etag ?? '' });
  t.equal(again.status, 304);
});

/** The gzip body is bytes: through the template's HTTP server, as a browser gets it. */
async function fetchThroughServer(deps: Awaited<ReturnType<typeof testDeps>>, headers: Record<string, string>) {
  const server = createFaasServer({ dispatch: createRouter([{ route, handle }], deps), log: deps.log });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        })
        .on('error', reject);
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
}
