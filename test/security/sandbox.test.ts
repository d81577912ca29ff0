import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { userHostUid } from '../../shared/orchestrator/userns.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { homeScript } from '../helpers/jobs.js';
import { results, runJob, users } from '../helpers/attack.js';
import { startTestPlatform } from '../helpers/platform.js';

// Security issue, "Jobs run unconfined": a job is someone else's code. Through the whole
// platform, alice's job script tries what a hostile tenant would — read the signing key and the
// service token under MLP_ROOT/secrets/, the store (password hashes), the platform's
// /proc/<pid>/environ and its process list, bob's dataset and home; write into bob's home and
// into its own — and prints what it got. Every attack must fail, while the legitimate uses (its
// own home and dataset read, its workspace and ckpt/ written) still work, under a uid that is
// not the platform's.
//
// Seen failing on the unsandboxed code (commit 57e3bf8, the local orchestrator spawning the
// entry as the platform's own user): every attack below succeeded (the key, the service token,
// the store file with bob's password hash, the platform's environ and all of the machine's
// processes, bob's files, a file written into bob's home and into alice's own home), and the
// job's uid was the platform's. MLP_JOB_SANDBOX=off still behaves that way, on purpose (the last test).

// The attacker's script: each attempt prints one RESULT line.
const ATTACK = (targets: Record<string, string>) => `
  import { readFileSync, writeFileSync, readdirSync, mkdirSync, symlinkSync, readlinkSync } from 'node:fs';
  import { spawnSync } from 'node:child_process';
  import path from 'node:path';
  const T = ${JSON.stringify(targets)};
  const attempt = (what, f) => {
    let line;
    try { line = { what, ok: true, value: String(f()).slice(0, 2000) }; } catch (err) { line = { what, ok: false, code: err.code ?? err.message }; }
    console.log('RESULT ' + JSON.stringify(line));
  };
  const readAll = (dir) => readdirSync(dir).map((f) => f + '=' + readFileSync(path.join(dir, f), 'utf8')).join(';');
  // Attacks: each must fail.
  attempt('list secrets', () => readdirSync(T.secrets).join(','));
  attempt('read signing key', () => readFileSync(T.secretFile, 'utf8'));
  attempt('read service token', () => readFileSync(T.serviceTokenFile, 'utf8'));
  attempt('read store', () => readAll(T.store));
  attempt('list MLP_ROOT', () => readdirSync(T.root).join(','));
  attempt('read platform environ', () => readFileSync('/proc/' + T.platformPid + '/environ', 'utf8'));
  attempt('read platform cmdline', () => readFileSync('/proc/' + T.platformPid + '/cmdline', 'utf8'));
  attempt('signal platform', () => process.kill(Number(T.platformPid), 0));
  attempt('read bob dataset', () => readFileSync(T.bobDataset, 'utf8'));
  attempt('read bob home', () => readFileSync(T.bobHomeFile, 'utf8'));
  attempt('list other users', () => readdirSync(path.dirname(process.env.MLP_DATASETS)).join(','));
  attempt('write bob home', () => writeFileSync(T.bobHomePlant, 'pwned'));
  attempt('write own home', () => writeFileSync(path.join(process.env.MLP_HOME, 'planted.txt'), 'x'));
  attempt('write own dataset', () => writeFileSync(T.ownDatasetPlant, 'x'));
  attempt('write other job', () => { mkdirSync(T.otherWorkspace, { recursive: true }); writeFileSync(path.join(T.otherWorkspace, 'x'), 'x'); });
  attempt('link to signing key', () => { symlinkSync(T.secretFile, 'ckpt/key.txt'); return readFileSync('ckpt/key.txt', 'utf8'); });
  // What it can see of processes: only its own sandbox's.
  attempt('list processes', () => readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).map((p) => { try { return p + ':' + readFileSync('/proc/' + p + '/cmdline', 'utf8').split('\\0').join(' '); } catch { return p; } }).join('\\n'));
  // Legitimate uses: each must work.
  attempt('read own home', () => readFileSync(path.join(process.env.MLP_HOME, 'notes.txt'), 'utf8'));
  attempt('read own dataset', () => readFileSync(path.join(process.env.MLP_DATASETS, 'mine', 'data.csv'), 'utf8'));
  attempt('write workspace', () => { writeFileSync(path.join(process.env.MLP_WORKSPACE, 'out.txt'), 'workspace ok'); return 'written'; });
  attempt('write ckpt', () => { writeFileSync('ckpt/model.json', '{"ok":true}'); return 'written'; });
  attempt('uid', () => process.getuid());
  // What it could use to become someone else: a user namespace of its own (root in it), a
  // capability, a namespace descriptor handed down by mistake.
  attempt('nested user namespace', () => { const r = spawnSync('unshare', ['--user', '--map-root-user', 'id', '-u']); if (r.status !== 0) throw new Error(String(r.stderr).trim()); return String(r.stdout).trim(); });
  attempt('capabilities', () => readFileSync('/proc/self/status', 'utf8').split('\\n').filter((l) => /^(CapEff|CapPrm|CapBnd|NoNewPrivs)/.test(l)).join(' '));
  attempt('namespace fds', () => readdirSync('/proc/self/fd').map((fd) => { try { return readlinkSync('/proc/self/fd/' + fd); } catch { return ''; } }).filter((l) => /^(user|mnt|net|pid):/.test(l)).join(',') || 'none');
  attempt('cwd', () => process.cwd());
`;

t.test("a job cannot reach the platform's secrets, its processes or another user's files", async (t) => {
  const p = await startTestPlatform();
  t.teardown(() => p.close());
  t.equal(p.deps.jobSandbox.mode, 'on', `the sandbox is available here: ${p.deps.jobSandbox.detail}`);
  const tokens = await users(p, ['alice', 'bob']);
  const paths = storagePaths(p.root);
  // bob's files, which alice's job goes after.
  const bobDataset = path.join(paths.dataset('bob', 'private'), 'data.csv');
  mkdirSync(path.dirname(bobDataset), { recursive: true });
  writeFileSync(bobDataset, 'bob-private-rows');
  homeScript(p.deps, 'bob', 'notes.txt', 'bob-private-notes');
  // alice's own home and dataset, which her job may read.
  homeScript(p.deps, 'alice', 'notes.txt', 'alice-notes');
  mkdirSync(paths.dataset('alice', 'mine'), { recursive: true });
  writeFileSync(path.join(paths.dataset('alice', 'mine'), 'data.csv'), 'alice-rows');
  const secrets = path.join(p.root, 'secrets');
  const secretValues = readdirSync(secrets).map((f) => readFileSync(path.join(secrets, f), 'utf8').trim());
  t.ok(secretValues.length >= 2 && secretValues.every((s) => s.length >= 32), 'the platform keeps its key and service token under MLP_ROOT/secrets');
  const targets = {
    root: p.root,
    secrets,
    secretFile: path.join(secrets, 'secret'),
    serviceTokenFile: path.join(secrets, 'service-token'),
    store: path.join(p.root, 'store'),
    platformPid: String(process.pid),
    bobDataset,
    bobHomeFile: path.join(paths.home('bob'), 'notes.txt'),
    bobHomePlant: path.join(paths.home('bob'), 'planted.txt'),
    ownDatasetPlant: path.join(paths.dataset('alice', 'mine'), 'planted.csv'),
    otherWorkspace: paths.job('bob', 'victim'),
  };
  t.ok(readdirSync(targets.store).length > 0, 'the store keeps files under MLP_ROOT/store');
  homeScript(p.deps, 'alice', 'attack.mjs', ATTACK(targets));

  const { state, log } = await runJob(p, tokens.alice!, 'alice', 'attack');
  t.equal(state, 'finished', 'the attack script itself ran to its end');
  const got = results(log);
  const attacks = [
    'list secrets',
    'read signing key',
    'read service token',
    'read store',
    'read platform environ',
    'read platform cmdline',
    'signal platform',
    'read bob dataset',
    'read bob home',
    'write bob home',
    'write own home',
    'write own dataset',
    'write other job',
    'link to signing key',
  ];
  for (const what of attacks) {
    const a = got.get(what);
    t.ok(a, `${what}: attempted`);
    t.equal(a?.ok, false, `${what}: refused (${a?.code ?? a?.value})`);
  }
  // MLP_ROOT, as the job sees it, holds only the folders leading to its own paths.
  t.equal(got.get('list MLP_ROOT')?.value, 'datasets,jobs', 'of MLP_ROOT, only the way to its own folders shows (no secrets, no store, no log)');
  t.equal(got.get('list other users')?.value, 'alice', "of the datasets, only its user's");
  for (const secret of secretValues) t.notOk(log.includes(secret), 'no secret of the platform is in what the job printed');
  t.notOk(/bob-private|scrypt|password_hash/.test(log), "nothing of bob's files or of the store is in what the job printed");
  t.notOk(existsSync(targets.bobHomePlant), "bob's home is untouched");
  t.notOk(existsSync(path.join(paths.home('alice'), 'planted.txt')), "alice's home is read-only to her job");
  t.notOk(existsSync(targets.ownDatasetPlant), 'her datasets are read-only to her job');
  t.notOk(existsSync(targets.otherWorkspace), "no other job's workspace was made");

  const procs = got.get('list processes')?.value ?? '';
  const listed = procs.split('\n').filter(Boolean);
  t.ok(listed.length > 0 && listed.length <= 5, `it sees only its own few processes:\n${procs}`);
  t.notOk(
    listed.some((l) => l.split(':')[0] === String(process.pid) || l.includes('sandbox.test')),
    "the platform's process is not among them",
  );

  t.match(got.get('read own home'), { ok: true, value: 'alice-notes' }, 'its own home is readable');
  t.match(got.get('read own dataset'), { ok: true, value: 'alice-rows' }, 'its own dataset is readable');
  t.match(got.get('write workspace'), { ok: true });
  t.match(got.get('write ckpt'), { ok: true });
  const workspace = paths.job('alice', 'attack');
  t.equal(readFileSync(path.join(workspace, 'out.txt'), 'utf8'), 'workspace ok', 'what it wrote in its workspace is there');
  t.equal(readFileSync(path.join(workspace, 'ckpt', 'model.json'), 'utf8'), '{"ok":true}', 'and its ckpt/');
  t.match(got.get('cwd'), { ok: true, value: workspace }, 'it runs in its workspace, at the path MLP_WORKSPACE names');
  const uid = Number(got.get('uid')?.value);
  t.ok(Number.isInteger(uid) && uid !== process.getuid?.(), `its uid (${uid}) is not the platform's (${process.getuid?.()})`);
  // On the host it is its user's own uid: not root, not the platform's (this test runs as root).
  const hostUid = statSync(path.join(workspace, 'out.txt')).uid;
  t.equal(hostUid, userHostUid('alice'), `on the host its files are its user's own uid (${hostUid}), not root's nor the platform's`);
  t.not(hostUid, 0);
  t.match(got.get('nested user namespace'), { ok: false }, `it cannot make a user namespace of its own (${got.get('nested user namespace')?.code})`);
  t.match(got.get('capabilities'), { ok: true, value: /CapPrm:\s+0+ CapEff:\s+0+ CapBnd:\s+0+ NoNewPrivs:\s+1/ }, 'no capability, and none to gain (an empty bounding set too)');
  t.match(got.get('namespace fds'), { ok: true, value: 'none' }, 'no namespace descriptor was handed down');
});

t.test('where the sandbox cannot be had, jobs are refused with a clear msg and give their resources back', async (t) => {
  const p = await startTestPlatform();
  t.teardown(() => p.close());
  const tokens = await users(p, ['alice']);
  homeScript(p.deps, 'alice', 'hello.mjs', `console.log('ran unconfined');`);
  // What createDeps reports when bwrap is missing or fails its probe.
  p.deps.jobSandbox = { mode: 'unavailable', detail: 'the job sandbox is unavailable (bwrap is not on PATH), so jobs are refused: install bubblewrap or set MLP_JOB_SANDBOX=off' };
  const { state, msg, log } = await runJob(p, tokens.alice!, 'alice', 'hello');
  t.equal(state, 'error');
  t.match(msg, /^not run: the job sandbox is unavailable .*MLP_JOB_SANDBOX=off/);
  t.notOk(log.includes('ran unconfined'), 'the entry never ran');
  const tenant = (await p.call('GET', '/api/v1/tenants/default', { token: tokens.alice })).json as { cpu_inuse: number };
  t.equal(tenant.cpu_inuse, 0, 'its resources were released');
});

t.test('MLP_JOB_SANDBOX=off runs jobs unconfined, and says so', async (t) => {
  const p = await startTestPlatform({ MLP_JOB_SANDBOX: 'off' });
  t.teardown(() => p.close());
  t.equal(p.deps.jobSandbox.mode, 'off');
  t.ok(
    p.logs.some((l) => /"level":"warn".*job sandbox off.*UNCONFINED/.test(l)),
    'a warning at start',
  );
  const tokens = await users(p, ['alice']);
  homeScript(
    p.deps,
    'alice',
    'whoami.mjs',
    `import { readdirSync } from 'node:fs'; console.log('RESULT ' + JSON.stringify({ what: 'secrets', ok: true, value: readdirSync(${JSON.stringify(path.join(p.root, 'secrets'))}).join(',') }));`,
  );
  const { state, log } = await runJob(p, tokens.alice!, 'alice', 'whoami');
  t.equal(state, 'finished');
  t.match(results(log).get('secrets'), { ok: true, value: /secret/ }, 'unconfined, a job sees MLP_ROOT (the single-user trade-off)');
});
