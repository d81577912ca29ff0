import t from 'tap';
import { compilePath, type PathParams } from './path-pattern.js';

t.test('a {param} stops at / and at :, so colon verbs stay literal', async (t) => {
  const hb = compilePath('/api/v1/users/{user}/jobs/{job}:heartbeat');
  t.same(hb.params, ['user', 'job']);
  t.same(hb.match('/api/v1/users/alice/jobs/train:heartbeat'), { user: 'alice', job: 'train' });
  t.equal(hb.match('/api/v1/users/alice/jobs/train'), null);
  t.equal(hb.match('/api/v1/users/alice/jobs/train:stop'), null);
  const job = compilePath('/api/v1/users/{user}/jobs/{job}');
  t.equal(job.match('/api/v1/users/alice/jobs/train:heartbeat'), null, 'the plain job route does not swallow the verb');
  t.equal(job.match('/api/v1/users/alice/jobs/a/b'), null);
  const tcc = compilePath('/api/v1/resource_request:try');
  t.same(tcc.match('/api/v1/resource_request:try'), {});
  t.equal(tcc.match('/api/v1/resource_requestXtry'), null, 'literal characters are escaped');
});

t.test('malformed templates are refused', async (t) => {
  t.throws(() => compilePath('/a/{user'), /unclosed/);
  t.throws(() => compilePath('/a/{User}'), /bad parameter/);
  t.throws(() => compilePath('/a/{x}/{x}'), /twice/);
});

t.test('a final {param+} takes the rest of the path', async (t) => {
  const file = compilePath('/data/{user}/{name}/{path+}');
  t.same(file.match('/data/alice/mnist/train/a.csv'), { user: 'alice', name: 'mnist', path: 'train/a.csv' });
  t.equal(file.match('/data/alice/mnist/'), null, 'the rest is not empty');
  t.throws(() => compilePath('/data/{path+}/x'), /must end the path/);
});

t.test('a path string types its parameters (checked by tsc: each @ts-expect-error must be an error)', async (t) => {
  const file: PathParams<'/data/{user}/{name}/{path+}'> = { user: 'u', name: 'n', path: 'a/b' };
  // @ts-expect-error a parameter the path does not name
  const extra: PathParams<'/api/v1/users/{user}'> = { user: 'u', job: 'j' };
  // @ts-expect-error a parameter the path names is missing
  const missing: PathParams<'/api/v1/users/{user}/jobs/{job}:heartbeat'> = { user: 'u' };
  const loose: PathParams<string> = { anything: 'x' };
  t.same(
    [file, extra, missing, loose].map((p) => Object.keys(p).length),
    [3, 2, 1, 1],
  );
});
