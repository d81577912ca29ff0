import { createHash } from 'node:crypto';
import { accessSync, chmodSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ensureClients, run, setup } from './gateways.js';

// README "Mount it" on a real kernel client: davfs2 (Debian) mounts the user's home over FUSE with
// the API token as its password, from a configuration and secrets file of the test's own (no
// question asked, no lock requests: the platform does not offer LOCK). A folder goes in with
// `cp -r`, the mount is taken down (davfs2 uploads what is left on unmount), and the files are read
// back through the platform and through a fresh mount with an empty cache, so every byte came
// from the server. Through the local runner and the Nginx gateway.

/**
 * sha256 of every file under `dir`, by relative path. Asynchronous on purpose: the platform answers
 * davfs2 from this very process, so a synchronous read of the mount would wait on itself.
 */
async function checksums(dir: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    // davfs2 shows its own lost+found at the top of a mount; it is not on the server.
    if (!rel && entry.name === 'lost+found') continue;
    const p = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(out, await checksums(dir, p));
    else
      out[p] = createHash('sha256')
        .update(await readFile(path.join(dir, p)))
        .digest('hex');
  }
  return out;
}

/** uid and gid of the system user mount.davfs runs as once mounted (dav_user, by default davfs2). */
function davUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('davfs2:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('the davfs2 package made no system user davfs2');
  return { uid: Number(uid), gid: Number(gid) };
}

const mounted = (dir: string) =>
  readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === dir);

/** Why davfs2 cannot run here (the test is skipped for that reason alone), or undefined. */
async function unavailable(): Promise<string | undefined> {
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse: this machine (or container) offers no FUSE, which davfs2 needs';
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch (err) {
    return `/dev/fuse cannot be opened (${(err as NodeJS.ErrnoException).code}): no FUSE for davfs2`;
  }
  if (process.getuid?.() !== 0) return `mounting needs root, and this test runs as uid ${process.getuid?.()}`;
  try {
    await ensureClients(['davfs2']);
  } catch (err) {
    return `davfs2 is not installed and could not be: ${(err as Error).message}`;
  }
  return undefined;
}

const why = await unavailable();

t.test('davfs2 mounts the home: a folder copied in with cp -r reads back the same', { skip: why ?? false }, async (t) => {
  const s = await setup(t);
  const work = mkdtempSync(path.join(tmpdir(), 'mlp-davfs2-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  // mount.davfs reads its configuration and secrets as root, then runs as davfs2, which must reach its cache.
  chmodSync(work, 0o711);
  const dav = davUser();
  // The folder: nested, with a file of several MiB and names that need encoding.
  const src = path.join(work, 'photos (2026)');
  mkdirSync(path.join(src, 'raw', '数据'), { recursive: true });
  writeFileSync(path.join(src, 'IMG 001 (1).jpg'), Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 17 }, (_, i) => (i * 31) % 251)));
  writeFileSync(path.join(src, 'données.csv'), 'a,b\n1,2\n');
  writeFileSync(path.join(src, 'raw', 'notes #1.txt'), 'first\n');
  writeFileSync(path.join(src, 'raw', '数据', '文件.txt'), '中文\n');
  writeFileSync(path.join(src, 'empty.txt'), '');
  const want = await checksums(src);

  for (const g of s.gateways) {
    t.test(`through ${g.name}`, async (t) => {
      const url = `${g.url}/data/${s.user}/.home/`;
      const mnt = path.join(work, `mnt-${g.name}`);
      mkdirSync(mnt);
      let mounts = 0;
      const mount = async () => {
        // A configuration of the test's own: its secrets (mode 0600, as davfs2 requires), a fresh cache each time.
        const conf = path.join(work, `davfs2-${g.name}-${++mounts}.conf`);
        const secrets = path.join(work, `secrets-${g.name}`);
        const cache = path.join(work, `cache-${g.name}-${mounts}`);
        // Root's, writable by davfs2's group: mount.davfs makes its own folder for the mount inside.
        mkdirSync(cache);
        chownSync(cache, 0, dav.gid);
        chmodSync(cache, 0o775);
        writeFileSync(secrets, `${url} ${s.user} ${s.token}\n`, { mode: 0o600 });
        // buf_size 64 (KiB): with a smaller buffer, davfs2 before 1.7.2 on Linux 6.16 and later
        // answers every directory read with EINVAL (seen here: `ls` of the mount fails, with any server).
        writeFileSync(conf, [`secrets ${secrets}`, `cache_dir ${cache}`, 'use_locks 0', 'ask_auth 0', 'delay_upload 0', 'buf_size 64', ''].join('\n'));
        const m = await run('mount.davfs', [url, mnt, '-o', `conf=${conf},uid=0,gid=0`], { timeoutMs: 60_000 });
        if (m.code !== 0 || !mounted(mnt)) throw new Error(`mount.davfs ${url} ${mnt} failed (exit ${m.code}): ${m.out}`);
        t.pass(`mounted ${url}`);
      };
      const umount = async () => {
        // umount returns once mount.davfs has uploaded what it still held and ended.
        const u = await run('umount', [mnt], { timeoutMs: 120_000 });
        t.equal(u.code, 0, `umount: ${u.out}`);
        t.notOk(mounted(mnt), 'unmounted');
      };
      t.teardown(async () => {
        if (!mounted(mnt)) return;
        const u = await run('umount', ['-l', mnt]);
        if (u.code !== 0) throw new Error(`umount -l ${mnt}: ${u.out}`);
      });

      await mount();
      const cp = await run('cp', ['-r', src, `${mnt}/`], { timeoutMs: 120_000 });
      t.equal(cp.code, 0, `cp -r: ${cp.out}`);
      t.same(await checksums(path.join(mnt, path.basename(src))), want, 'read back through the mount');
      await umount();

      const top = encodeURIComponent(path.basename(src));
      const listing = await s.platform.call('GET', `/data/${s.user}/.home/${top}/`, { token: s.token });
      t.equal(listing.status, 200, listing.text);
      t.same((listing.json as { path: string }[]).map((f) => f.path).sort(), Object.keys(want).sort(), 'the platform lists every file under its name');
      for (const [rel, sum] of Object.entries(want)) {
        const r = await fetch(`${g.url}/data/${s.user}/.home/${top}/${rel.split('/').map(encodeURIComponent).join('/')}`, { headers: { authorization: `Bearer ${s.token}` } });
        t.equal(
          createHash('sha256')
            .update(Buffer.from(await r.arrayBuffer()))
            .digest('hex'),
          sum,
          `${rel}: the platform serves the same bytes`,
        );
      }

      await mount();
      t.same(await checksums(path.join(mnt, path.basename(src))), want, 'a fresh mount (empty cache) reads the same bytes from the server');
      await umount();
    });
  }
});
