import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { api as cliApi, ServerError } from '../../bin/src/api.js';
import createModel from '../../functions/models-create/route.js';
import { handle as createModelHandle } from '../../functions/models-create/handler.js';
import { Forbidden, setMessageTransform } from '../../shared/core/errors.js';
import { ckptOf } from '../../shared/models/lifecycle.js';
import { measureTree } from '../../shared/models/files.js';
import { modelsCollection } from '../../shared/records/models.js';
import { openUnder } from '../../shared/webdav/confined.js';
import { cliSession } from '../helpers/cli.js';
import { invoke, testDeps } from '../helpers/deps.js';
import { tinyModel } from '../helpers/models.js';
import { until } from '../helpers/poll.js';
import { finishedJob } from '../helpers/serving.js';
import { userWithToken } from '../helpers/users.js';

// Errors carry a stable code, and code decides by it, never by the message (docs/api.md#conventions).
// Here every message the platform makes is reworded — marked and written backwards — before any
// scenario runs: the link, not-found and token outcomes must still be told apart, in process and
// across HTTP (x-mlp-code), by the platform, the `mlp` client and the web UI's answer reader.
// The TCC refusals have their own such test (shared/tcc/outcomes.test.ts). Each scenario also
// shows that a check on the old words would now miss: without the codes, these tests fail.

const MARK = '⟨renamed⟩ ';
const rename = (msg: string) => MARK + [...msg].reverse().join('');
setMessageTransform(rename);
t.teardown(() => setMessageTransform(undefined));

const msgOf = (body: unknown) => (body as { msg: string }).msg;

/** The web UI's answer reader (ui/src/api.ts), loaded by path: the UI is type-checked on its own, for the browser. */
interface ApiError extends Error {
  status: number;
  code?: string;
}
const ui = (await import(pathToFileURL(path.resolve(import.meta.dirname, '../../ui/src/api.ts')).href)) as {
  answer(res: Response): Promise<unknown>;
  ApiError: abstract new (...args: never[]) => ApiError;
};
const { answer } = ui;

t.test('the transform is on: messages are reworded where they are made', async (t) => {
  t.equal(new Forbidden('token is invalid').message, `${MARK}dilavni si nekot`);
  t.equal(new Forbidden('token is invalid').code, 'FORBIDDEN');
});

t.test('a link: refused with code LINK, decided by type and code, whatever it says', async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  await finishedJob(deps, 'bob', 'secret');
  await tinyModel(ckptOf(deps.config.root, 'bob', 'secret'));
  await finishedJob(deps, 'alice', 'train');
  const ckpt = ckptOf(deps.config.root, 'alice', 'train');
  mkdirSync(path.dirname(ckpt), { recursive: true });
  symlinkSync(path.join('..', '..', 'bob', 'secret', 'ckpt'), ckpt);

  // What the model and ownership code relies on: a link on the way is refused as a Forbidden.
  const segments = path.relative(deps.config.root, ckpt).split(path.sep);
  const opened = await openUnder(deps.config.root, segments, false).catch((err: unknown) => err);
  t.ok(opened instanceof Forbidden, 'openUnder refuses the link with a Forbidden');
  t.notOk((opened as Error).message.includes('is a link'), 'a check on the words "is a link" would miss it');
  await t.rejects(measureTree(deps.config.root, segments), { code: 'LINK', message: new RegExp(`^${MARK}`) });

  const a = await invoke(createModel, createModelHandle, deps, { path: '/api/v1/users/alice/models', headers: alice, body: { name: 'stolen', src: 'train' } });
  t.equal(a.status, 403, `refused (got ${a.status} ${JSON.stringify(a.body)})`);
  t.equal(a.headers['x-mlp-code'], 'LINK');
  t.ok(msgOf(a.body).startsWith(MARK), 'the answer carries the reworded message');
  t.notOk(msgOf(a.body).includes('is a link'));
  const settled = await until(
    () => modelsCollection(deps.store).get('alice/stolen'),
    (m) => m?.state !== 'creating',
    'the copy, if one was started',
  );
  t.not(settled?.state, 'ready', 'no model was made of the link');
  t.notOk(readdirSync(deps.config.root).includes('models') && readdirSync(path.join(deps.config.root, 'models')).includes('alice'), 'nothing copied');
});

t.test('not found and an ended token, across HTTP: the mlp client and the web UI decide by x-mlp-code', async (t) => {
  const { work, p, mlp } = await cliSession(t);
  const login = await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] });
  t.equal(login.status, 200, login.text);
  const token = login.json as string;

  const missing = await p.call('GET', '/api/v1/users/alice/datasets/none', { token });
  t.equal(missing.status, 403);
  t.equal(missing.headers.get('x-mlp-code'), 'NOT_FOUND');
  t.notOk(/not found/.test(msgOf(missing.json)), 'a check on the words "not found" would miss it');
  const err = await cliApi({ url: p.url, token })
    .json('GET', '/api/v1/users/alice/datasets/none')
    .catch((e: unknown) => e);
  t.ok(err instanceof ServerError && err.code === 'NOT_FOUND' && err.message.startsWith(MARK), 'the client reads the code and the reworded msg');

  // `mlp dataset upload` looks the dataset up first and creates it when the answer is NOT_FOUND.
  t.equal((await mlp('login', '--url', p.url, '--user', 'alice', '--password', 'password1')).code, 0);
  const src = path.join(work, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(path.join(src, 'labels.csv'), 'a,b\n1,2\n');
  const up = await mlp('dataset', 'upload', src, '--name', 'fresh', '--quiet');
  t.equal(up.code, 0, up.out);
  t.match(up.out, /dataset fresh is ready/);

  // The web UI ends the session on TOKEN_INVALID: a logged-out token, read by its answer reader.
  t.equal((await p.call('DELETE', '/api/v1/users/alice/token', { token })).status, 200);
  const res = await fetch(`${p.url}/api/v1/users/alice/datasets`, { headers: { authorization: `Bearer ${token}` } });
  const ended = await answer(res).catch((e: unknown) => e);
  t.ok(ended instanceof ui.ApiError, 'an ApiError');
  t.equal((ended as ApiError).status, 403);
  t.equal((ended as ApiError).code, 'TOKEN_INVALID');
  t.notOk(/token/i.test((ended as ApiError).message), 'a check on the word "token" would miss it');
  // A refusal about a token that does not end it (another user's objects) keeps the session.
  const fresh = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const other = await answer(await fetch(`${p.url}/api/v1/users/bob/datasets`, { headers: { authorization: `Bearer ${fresh}` } })).catch((e: unknown) => e);
  t.equal((other as ApiError).code, 'FORBIDDEN', "another user's objects: FORBIDDEN, not a reason to log out");
});
