import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { homePath, params, resumePath } from '../../templates/runtime-tf/mlp-runtime.js';

t.test('params: MLP_PARAMS as an object, {} without it, a clear error otherwise', async (t) => {
  t.same(params({}), {});
  t.same(params({ MLP_PARAMS: ' ' }), {});
  t.same(params({ MLP_PARAMS: '{"lr":0.01,"layers":[4,8]}' }), { lr: 0.01, layers: [4, 8] });
  t.throws(() => params({ MLP_PARAMS: '{lr' }), /MLP_PARAMS is not JSON/);
  t.throws(() => params({ MLP_PARAMS: '[1]' }), /must be a JSON object/);
});

t.test('homePath stays inside the home', async (t) => {
  const before = process.env.MLP_HOME;
  t.teardown(() => (before === undefined ? delete process.env.MLP_HOME : (process.env.MLP_HOME = before)));
  delete process.env.MLP_HOME;
  t.throws(() => homePath('a'), /MLP_HOME is not set/);
  process.env.MLP_HOME = '/h';
  t.equal(homePath('data', 'x.csv'), '/h/data/x.csv');
  t.throws(() => homePath('../secrets'), /without '\.\.'/);
  t.throws(() => homePath('/etc/passwd'), /must be relative/);
});

t.test('resumePath: the newest regular file of ckpt/, not a link nor an unfinished file', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-resume-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal(resumePath(path.join(dir, 'missing')), undefined, 'no ckpt/ yet');
  mkdirSync(path.join(dir, 'e1'));
  writeFileSync(path.join(dir, 'e1', 'w.bin'), 'old');
  writeFileSync(path.join(dir, 'new.bin'), 'new');
  utimesSync(path.join(dir, 'e1', 'w.bin'), 1000, 1000);
  utimesSync(path.join(dir, 'new.bin'), 2000, 2000);
  t.equal(resumePath(dir), path.join(dir, 'new.bin'));
  writeFileSync(path.join(dir, '.mlp-tmp-half'), 'x');
  symlinkSync('/etc/passwd', path.join(dir, 'link'));
  t.equal(resumePath(dir), path.join(dir, 'new.bin'), 'newer, but unfinished or a link: skipped');
});
