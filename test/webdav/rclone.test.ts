import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ensureClients, run, setup } from './gateways.js';

// rclone (Debian) as a WebDAV remote configured only by RCLONE_CONFIG_<NAME>_* variables, the API
// token as its password through `rclone obscure`, against the local runner and the Nginx gateway:
// a folder copied into a creating dataset, listed, the dataset marked ready by heartbeat, copied
// back, and every file's checksum the same (README "Mount it").

/** sha256 of every file under `dir`, by relative path. */
function checksums(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSorted(path.join(dir, rel))) {
    const p = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(out, checksums(dir, p));
    else
      out[p] = createHash('sha256')
        .update(readFileSync(path.join(dir, p)))
        .digest('hex');
  }
  return out;
}
const readdirSorted = (dir: string) => readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));

t.test('rclone copies a folder into a creating dataset and back once it is ready', async (t) => {
  await ensureClients(['rclone']);
  const s = await setup(t);
  const work = mkdtempSync(path.join(tmpdir(), 'mlp-rclone-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  // The folder: nested files, an empty one, and one large enough to take several chunks.
  const src = path.join(work, 'src');
  mkdirSync(path.join(src, 'train', 'deep'), { recursive: true });
  writeFileSync(path.join(src, 'labels.csv'), 'a,b\n1,2\n');
  writeFileSync(path.join(src, 'empty.txt'), '');
  writeFileSync(path.join(src, 'train', 'x.bin'), Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 7) % 251)));
  writeFileSync(path.join(src, 'train', 'deep', 'y.txt'), 'deep file\n');
  const want = checksums(src);
  const size = Object.keys(want).reduce((sum, f) => sum + readFileSync(path.join(src, f)).length, 0);

  const obscured = await run('rclone', ['obscure', s.token]);
  t.equal(obscured.code, 0, 'rclone obscure (its output, reversible, stays out of the log)');
  const emptyConfig = path.join(work, 'rclone.conf');
  writeFileSync(emptyConfig, '');

  for (const g of s.gateways) {
    t.test(`through ${g.name}`, async (t) => {
      const env = {
        RCLONE_CONFIG: emptyConfig,
        RCLONE_CONFIG_MLP_TYPE: 'webdav',
        RCLONE_CONFIG_MLP_URL: `${g.url}/data/${s.user}`,
        RCLONE_CONFIG_MLP_VENDOR: 'other',
        RCLONE_CONFIG_MLP_USER: s.user,
        RCLONE_CONFIG_MLP_PASS: obscured.out.trim(),
      };
      const rclone = (...args: string[]) => run('rclone', [...args, '--retries', '1', '--low-level-retries', '1'], { env });
      const name = `mnist${g.name === 'local' ? 'l' : 'n'}`;
      const created = await s.platform.call('POST', `/api/v1/users/${s.user}/datasets`, { token: s.token, body: { name, size } });
      t.equal(created.status, 201, created.text);

      const up = await rclone('copy', src, `mlp:${name}`);
      t.equal(up.code, 0, `rclone copy up: ${up.out}`);
      const listed = await rclone('lsf', '-R', '--files-only', `mlp:${name}`);
      t.equal(listed.code, 0, listed.out);
      t.same(listed.out.trim().split('\n').sort(), Object.keys(want).sort(), 'rclone lists what it copied');
      const served = await s.platform.call('GET', `/data/${s.user}/${name}/`, { token: s.token });
      t.same((served.json as { path: string }[]).map((f) => f.path).sort(), Object.keys(want).sort(), 'the platform lists the same files');

      const early = await rclone('copy', `mlp:${name}`, path.join(work, `early-${g.name}`));
      t.not(early.code, 0, 'downloading before ready is refused');

      const ready = await s.platform.call('PUT', `/api/v1/users/${s.user}/datasets/${name}:heartbeat`, { token: s.token, body: { state: 'ready', progress: 100 } });
      t.equal(ready.status, 200, ready.text);
      const back = path.join(work, `back-${g.name}`);
      const down = await rclone('copy', `mlp:${name}`, back);
      t.equal(down.code, 0, `rclone copy back: ${down.out}`);
      t.same(checksums(back), want, 'every file came back with the same sha256');
      const check = await rclone('check', src, `mlp:${name}`, '--size-only');
      t.equal(check.code, 0, `rclone check: ${check.out}`);
    });
  }
});
