import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ensureClients, run, setup } from './gateways.js';

// cadaver (Debian), the command-line WebDAV client: it sends credentials only after the 401
// challenge, reading them from ~/.netrc (a temporary HOME here, the API token as the password).
// put, ls and get in the user's home and in a creating dataset, against the local runner and the
// Nginx gateway (README "Mount it").

t.test('cadaver: put, ls, get after the Basic challenge', async (t) => {
  await ensureClients(['cadaver']);
  const s = await setup(t);
  const home = mkdtempSync(path.join(tmpdir(), 'mlp-cadaver-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  writeFileSync(path.join(home, '.netrc'), `machine 127.0.0.1 login ${s.user} password ${s.token}\n`, { mode: 0o600 });
  const local = path.join(home, 'model.json');
  writeFileSync(local, JSON.stringify({ layers: [1, 2, 3] }));

  for (const g of s.gateways) {
    t.test(`through ${g.name}`, async (t) => {
      const cadaver = (where: string, script: string[]) =>
        run('cadaver', [`${g.url}/data/${s.user}/${where}/`], { env: { HOME: home }, cwd: home, input: `${[...script, 'quit'].join('\n')}\n`, timeoutMs: 60_000 });

      const got = path.join(home, `got-${g.name}.json`);
      const session = await cadaver('.home', [`mkcol models-${g.name}`, `cd models-${g.name}`, 'put model.json', 'ls', `get model.json ${got}`]);
      t.equal(session.code, 0, session.out);
      t.notMatch(session.out, /failed|401|403/i, `nothing failed:\n${session.out}`);
      t.match(session.out, /model\.json\s+\d+/, 'ls lists the file with its size');
      t.equal(readFileSync(got, 'utf8'), readFileSync(local, 'utf8'), 'get returns what put stored');
      const stored = await s.platform.call('GET', `/data/${s.user}/.home/models-${g.name}/model.json`, { token: s.token });
      t.equal(stored.text, readFileSync(local, 'utf8'), 'the platform serves the same bytes');

      // A creating dataset: put and ls work; get waits for ready, as the contract says.
      const name = `cad${g.name === 'local' ? 'l' : 'n'}`;
      await s.platform.call('POST', `/api/v1/users/${s.user}/datasets`, { token: s.token, body: { name, size: 1000 } });
      const upload = await cadaver(name, ['put model.json', 'ls']);
      t.equal(upload.code, 0, upload.out);
      t.match(upload.out, /model\.json\s+\d+/, upload.out);
      const early = await cadaver(name, [`get model.json ${path.join(home, 'early.json')}`]);
      t.match(early.out, /failed/i, 'get before ready is refused');
      await s.platform.call('PUT', `/api/v1/users/${s.user}/datasets/${name}:heartbeat`, { token: s.token, body: { state: 'ready', progress: 100 } });
      const after = path.join(home, `after-${g.name}.json`);
      const download = await cadaver(name, [`get model.json ${after}`]);
      t.notMatch(download.out, /failed/i, download.out);
      t.equal(readFileSync(after, 'utf8'), readFileSync(local, 'utf8'), 'get once ready');

      // Without the right credentials cadaver gets no further than the challenge.
      writeFileSync(path.join(home, '.netrc'), `machine 127.0.0.1 login ${s.user} password not-a-token\n`, { mode: 0o600 });
      const wrong = await cadaver('.home', ['ls']);
      t.match(wrong.out, /403|forbidden|failed|could not/i, `wrong credentials are refused:\n${wrong.out}`);
      writeFileSync(path.join(home, '.netrc'), `machine 127.0.0.1 login ${s.user} password ${s.token}\n`, { mode: 0o600 });
    });
  }
});
