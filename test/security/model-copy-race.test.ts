import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { storagePaths } from '../../shared/storage/paths.js';
import { users } from '../helpers/attack.js';
import { homeScript } from '../helpers/jobs.js';
import { startTestPlatform } from '../helpers/platform.js';

// The attack that stole the signing key and the service token: a job writes a ckpt/model.json
// whose weights are w/secret and w/service-token (decoys of the same sizes), plants
// `spare -> MLP_ROOT/secrets`, and swaps ckpt/w and spare with renameat2(RENAME_EXCHANGE) in a
// loop that ignores SIGTERM, started before it sends its own `finished` heartbeat; its owner then
// asks for models of it until one copy reads through the link.
// Seen failing on this commit's parent: the job was `finished` while its swap loop still ran (the
// platform stopped it later, gracefully), so ckpt/ kept changing under a finished job.

const ATTACK = (secretsDir: string, sizes: { secret: number; token: number }) => `
import ctypes, json, os, signal, sys, time, urllib.request
signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.makedirs('ckpt/w', exist_ok=True)
with open('ckpt/model.json', 'w') as f: f.write(json.dumps({'weights': ['w/secret', 'w/service-token']}))
with open('ckpt/w/secret', 'w') as f: f.write('x' * ${sizes.secret})
with open('ckpt/w/service-token', 'w') as f: f.write('y' * ${sizes.token})
os.symlink(${JSON.stringify(secretsDir)}, 'ckpt/spare')
if os.fork() == 0:
    libc = ctypes.CDLL(None)
    while True:
        libc.renameat2(-100, b'ckpt/w', -100, b'ckpt/spare', 2)
time.sleep(0.5)
api, user, job = os.environ['MLP_API'], os.environ['MLP_USER'], os.environ['MLP_JOB']
req = urllib.request.Request(api + '/api/v1/users/%s/jobs/%s:heartbeat' % (user, job), method='PUT',
    data=json.dumps({'state': 'finished', 'progress': 100}).encode(),
    headers={'authorization': 'Bearer ' + os.environ['MLP_TOKEN'], 'content-type': 'application/json'})
try:
    print('heartbeat answered', urllib.request.urlopen(req, timeout=60).status, flush=True)
except Exception as e:
    print('heartbeat failed', e, flush=True)
while True:
    time.sleep(1)
`;

const letters = (n: number) => String.fromCharCode(97 + Math.floor(n / 26), 97 + (n % 26));

t.test('a job that says it finished cannot change its ckpt/ any more, nor lead a model copy to the secrets', async (t) => {
  const p = await startTestPlatform({ MLP_TENANT_CPU: '2', MLP_TENANT_RAM: '4000' });
  t.teardown(() => p.close());
  const token = (await users(p, ['alice'])).alice ?? '';
  const secrets = path.join(p.root, 'secrets');
  const secret = readFileSync(path.join(secrets, 'secret'));
  const serviceToken = readFileSync(path.join(secrets, 'service-token'));
  homeScript(p.deps, 'alice', 'attack.py', ATTACK(secrets, { secret: secret.length, token: serviceToken.length }));
  t.equal((await p.call('POST', '/api/v1/users/alice/jobs', { token, body: { name: 'steal', entry: 'attack.py' } })).status, 201);

  let job: { state: string; msg?: string } = { state: 'creating' };
  for (let i = 0; i < 600 && job.state !== 'finished' && job.state !== 'error'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    job = (await p.call('GET', '/api/v1/users/alice/jobs/steal', { token })).json as typeof job;
  }
  t.equal(job.state, 'finished', `the job said it finished (${JSON.stringify(job)})`);

  // Nothing of it runs any more: its ckpt/ is what it was when the state changed, and stays so.
  const ckpt = path.join(storagePaths(p.root).job('alice', 'steal'), 'ckpt');
  const snapshot = () => ['w', 'spare'].map((n) => `${n}:${lstatSync(path.join(ckpt, n)).ino}`).join(' ');
  // (Two names swapped have two states: one look could match by chance, fifty cannot.)
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    seen.add(snapshot());
    await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(seen.size, 1, `no process of the finished job swaps its ckpt/ any more (${[...seen].join(' | ')})`);

  // The owner asks for models of it, again and again: never one holding a secret.
  let ready = 0;
  for (let i = 0; i < 20; i++) {
    const name = `m${letters(i)}`.replace(/\d/g, '');
    const created = await p.call('POST', '/api/v1/users/alice/models', { token, body: { name, src: 'steal' } });
    if (created.status !== 201) {
      t.match(created.json, { msg: /link/ }, `model ${name} refused for the link`);
      continue;
    }
    let model: { state: string } = { state: 'creating' };
    for (let j = 0; j < 200 && model.state === 'creating'; j++) {
      await new Promise((r) => setTimeout(r, 25));
      model = (await p.call('GET', `/api/v1/users/alice/models/${name}`, { token })).json as typeof model;
    }
    if (model.state !== 'ready') continue;
    ready += 1;
    const dir = storagePaths(p.root).model('alice', name);
    for (const file of readdirSync(dir, { recursive: true }) as string[]) {
      const full = path.join(dir, file);
      if (!statSync(full).isFile()) continue;
      const bytes = readFileSync(full);
      t.notOk(bytes.equals(secret) || bytes.equals(serviceToken), `model ${name}'s ${file} is not a secret of the platform`);
    }
  }
  t.pass(`${ready} of 20 model creates made a model, none holding a secret`);
});
