// Upload and download of one large file through WebDAV (PUT/GET /data/<user>/<dataset>/<file>)
// on the local runner and through the real Nginx gateway, as a ratio of dd with conv=fsync on the
// same disk (both directions; dd's read rate is noted), with the platform process's peak
// RSS growth during each transfer (VmRSS sampled every 20 ms).
//   npm run bench:transfer [-- --size 1024 (MiB) --no-nginx --quick]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ensureBuilt, json, MiB, NGINX_MODULE, peakRss, run, section, startPlatform, startReference, userToken } from './lib.js';
import { meets, ratio } from './report.js';

const { values: args } = parseArgs({ options: { size: { type: 'string' }, 'no-nginx': { type: 'boolean', default: false }, quick: { type: 'boolean', default: false } } });
const SIZE_MIB = Number(args.size ?? (args.quick ? 128 : 1024));
const CHUNK = Buffer.alloc(MiB, 7);

run('transfer', async () => {
  ensureBuilt();
  // MLP_ROOT on the disk dd measures (the temp dir's).
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-bench-transfer-'));
  const platform = await startPlatform(root);
  let nginx: { url: string; stop(): Promise<void> } | undefined;
  const s = section('transfer', `WebDAV transfer of ${SIZE_MIB} MiB`);
  try {
    const token = await userToken(platform.base, 'bench');
    const ddFile = path.join(root, 'dd.bin');
    const ddWrite = timed(() => dd([`if=/dev/zero`, `of=${ddFile}`, 'bs=1M', `count=${SIZE_MIB}`, 'conv=fsync']));
    const ddRead = timed(() => dd([`if=${ddFile}`, 'of=/dev/null', 'bs=1M']));
    rmSync(ddFile);
    const bases: Record<string, string> = { 'local runner': platform.base };
    if (!args['no-nginx']) {
      const { startNginx } = (await import(NGINX_MODULE)) as { startNginx: (o: { upstream: string }) => Promise<{ url: string; stop(): Promise<void> }> };
      nginx = await startNginx({ upstream: `127.0.0.1:${platform.port}` });
      bases.Nginx = nginx.url;
    }
    const pid = platform.child.pid as number;
    // The ceiling of any upload server in Node on this machine, in the same run.
    const bare = await startReference('bare-receiver.mjs', { DIR: root });
    try {
      const up = await put(`${bare.url}/blob.bin`, token, SIZE_MIB);
      const rate = SIZE_MIB / up.seconds;
      s.figure({
        name: 'bare node:http receiver (reference): upload (PUT)',
        value: rate,
        unit: 'MiB/s',
        baseline: { name: 'dd conv=fsync', value: SIZE_MIB / ddWrite },
        ratio: ratio(rate, SIZE_MIB / ddWrite, '%'),
      });
    } finally {
      bare.child.kill('SIGTERM');
    }
    let n = 0;
    for (const [label, base] of Object.entries(bases)) {
      const dataset = `big${'abcdef'[n++] ?? 'z'}`;
      await json(platform.base, 'POST', '/api/v1/users/bench/datasets', token, { name: dataset, size: SIZE_MIB * MiB + MiB });
      const url = `${base}/data/bench/${dataset}/blob.bin`;
      const up = await peakRss(pid, () => put(url, token, SIZE_MIB));
      // Files are downloadable once the uploader reports the dataset ready (docs/api.md#datasets).
      await json(platform.base, 'PUT', `/api/v1/users/bench/datasets/${dataset}:heartbeat`, token, { state: 'ready', progress: 100 });
      const down = await peakRss(pid, () => get(url, token));
      if (down.value.bytes !== SIZE_MIB * MiB) throw new Error(`${label}: downloaded ${down.value.bytes} bytes, uploaded ${SIZE_MIB * MiB}`);
      const upRate = SIZE_MIB / up.value.seconds;
      const downRate = SIZE_MIB / down.value.seconds;
      const ur = ratio(upRate, SIZE_MIB / ddWrite, '%');
      const dr = ratio(downRate, SIZE_MIB / ddWrite, '%');
      s.figure({
        name: `${label}: upload (PUT)`,
        value: upRate,
        unit: 'MiB/s',
        baseline: { name: 'dd conv=fsync', value: SIZE_MIB / ddWrite },
        ratio: ur,
        goal: '>= 70 %',
        met: meets('>= 70', ur.value),
      });
      s.figure({
        name: `${label}: download (GET)`,
        value: downRate,
        unit: 'MiB/s',
        baseline: { name: 'dd conv=fsync', value: SIZE_MIB / ddWrite },
        ratio: dr,
        goal: '>= 70 %',
        met: meets('>= 70', dr.value),
      });
      const growth = (Math.max(up.peak, down.peak) - up.before) / MiB;
      s.figure({ name: `${label}: platform peak RSS growth`, value: growth, unit: 'MiB', goal: '<= 64 MiB', met: meets('<= 64', growth) });
    }
    s.note(
      `${SIZE_MIB} MiB; dd and MLP_ROOT on the same disk (${tmpdir()}); both directions are compared with dd's fsynced write; a download is served mostly from the page cache (dd reads the same file at ${(SIZE_MIB / ddRead).toFixed(0)} MiB/s)`,
    );
    s.save();
  } finally {
    await nginx?.stop();
    await platform.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

function dd(argv: string[]): void {
  const r = spawnSync('dd', argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dd ${argv.join(' ')}: ${r.stderr}`);
}

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

/** PUT of `mib` MiB, written as the socket drains (the client holds one MiB at a time). */
function put(url: string, token: string, mib: number): Promise<{ seconds: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(url, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-length': String(mib * MiB) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () =>
        res.statusCode === 201 || res.statusCode === 204 || res.statusCode === 200 ? resolve({ seconds: (performance.now() - t0) / 1000 }) : reject(new Error(`PUT ${url}: ${res.statusCode} ${text}`)),
      );
    });
    req.on('error', reject);
    let sent = 0;
    const more = () => {
      while (sent < mib) {
        sent += 1;
        if (!req.write(CHUNK)) return void req.once('drain', more);
      }
      req.end();
    };
    more();
  });
}

function get(url: string, token: string): Promise<{ seconds: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    http
      .get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
        if (res.statusCode !== 200) {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          return void res.on('end', () => reject(new Error(`GET ${url}: ${res.statusCode} ${text}`)));
        }
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ seconds: (performance.now() - t0) / 1000, bytes }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}
