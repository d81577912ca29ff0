import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { copyTree, measureTree } from './files.js';

// A job is someone else's code and the platform copies its ckpt/ as itself. The attack: weights in
// ckpt/w/, a link `spare` to the platform's secrets beside it, and a loop swapping the two names
// with renameat2(RENAME_EXCHANGE) while the copy runs. A copy that checks a path and then opens it
// (lstat, then copyFile by path) reads through the link whenever the swap lands in between.
// Seen failing on this commit's parent (lstat + copyFile by path): the copy held the secret.

const SECRET = 'the-platform-signing-key-0123456789abcdef';
const DECOY = 'x'.repeat(SECRET.length);

// The swapper: exchanges two names as fast as it can until killed (glibc's renameat2 via ctypes).
const SWAPPER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
a, b = sys.argv[1].encode(), sys.argv[2].encode()
print('swapping', flush=True)
while True:
    if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
        sys.exit('renameat2: ' + os.strerror(ctypes.get_errno()))
`;

t.test('a copy never reads through a link a job swaps in while it runs', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-ckpt-race-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'secrets'));
  writeFileSync(path.join(root, 'secrets', 'secret'), SECRET);
  const ckpt = path.join(root, 'jobs', 'alice', 'train', 'ckpt');
  mkdirSync(path.join(ckpt, 'w'), { recursive: true });
  writeFileSync(path.join(ckpt, 'model.json'), '{"weights":["w/secret"]}');
  writeFileSync(path.join(ckpt, 'w', 'secret'), DECOY); // same name and size as the secret
  symlinkSync(path.join(root, 'secrets'), path.join(ckpt, 'spare'));

  const swapper = spawn('python3', ['-c', SWAPPER, path.join(ckpt, 'w'), path.join(ckpt, 'spare')], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => swapper.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    swapper.stdout.once('data', () => resolve());
    swapper.once('exit', (code) => reject(new Error(`the swapper ended (${code})`)));
  });

  const segments = ['jobs', 'alice', 'train', 'ckpt'];
  let copied = 0;
  let refused = 0;
  const leaks: string[] = [];
  for (let i = 0; i < 300; i++) {
    const dst = path.join(root, 'models', `m${i}`);
    try {
      await copyTree(root, segments, dst);
      copied += 1;
    } catch (err) {
      refused += 1;
      t.match((err as Error).message, /link|changed|went away|not a regular|not a folder/, `attempt ${i}: refused for the link, saying so`);
    }
    const leaked = existsSync(path.join(dst, 'w', 'secret')) && readFileSync(path.join(dst, 'w', 'secret'), 'utf8') === SECRET;
    if (leaked) leaks.push(`m${i}`);
    rmSync(dst, { recursive: true, force: true });
  }
  t.same(leaks, [], `no copy held the secret (${copied} copies made, ${refused} refused while the link was in place)`);
  t.ok(copied + refused === 300, 'every attempt ended one way or the other');
  t.same(readdirSync(path.join(root, 'secrets')), ['secret'], 'the secrets folder is as it was');
});

t.test('measure and copy: regular files and folders only, sizes of the files themselves', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-ckpt-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const ckpt = path.join(root, 'jobs', 'alice', 'train', 'ckpt');
  mkdirSync(path.join(ckpt, 'sub'), { recursive: true });
  writeFileSync(path.join(ckpt, 'model.json'), '{}');
  writeFileSync(path.join(ckpt, 'sub', 'weights.bin'), Buffer.alloc(1000, 7));
  writeFileSync(path.join(ckpt, 'empty'), '');
  const segments = ['jobs', 'alice', 'train', 'ckpt'];
  t.same(await measureTree(root, segments), { files: 3, bytes: 1002 });
  const dst = path.join(root, 'models', 'alice', 'm');
  t.same(await copyTree(root, segments, dst), { files: 3, bytes: 1002 });
  t.same(readFileSync(path.join(dst, 'sub', 'weights.bin')), Buffer.alloc(1000, 7));
  t.equal(readFileSync(path.join(dst, 'empty'), 'utf8'), '');
  t.equal(await measureTree(root, ['jobs', 'alice', 'nope', 'ckpt']), null, 'no ckpt/: null');

  symlinkSync('/etc', path.join(ckpt, 'sub', 'etc'));
  await t.rejects(measureTree(root, segments), /ckpt\/sub\/etc is a link; a model is made of regular files only/);
  await t.rejects(copyTree(root, segments, path.join(root, 'models', 'alice', 'n')), /ckpt\/sub\/etc is a link/);
  rmSync(path.join(ckpt, 'sub', 'etc'));

  // ckpt/ itself, or the job's folder, a link: refused, never followed.
  const other = path.join(root, 'jobs', 'alice', 'other');
  mkdirSync(other, { recursive: true });
  symlinkSync(ckpt, path.join(other, 'ckpt'));
  await t.rejects(measureTree(root, ['jobs', 'alice', 'other', 'ckpt']), /is a link/);
  symlinkSync(path.join(root, 'jobs', 'alice', 'train'), path.join(root, 'jobs', 'alice', 'linked'));
  await t.rejects(copyTree(root, ['jobs', 'alice', 'linked', 'ckpt'], path.join(root, 'models', 'alice', 'o')), /is a link/);
});
