import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ensureClients, run, setup } from './gateways.js';

// litmus 0.13 (Debian), the WebDAV compliance suite, groups basic, copymove and props, against the
// user's home (writable at any time; a creating dataset refuses GET until ready) on the
// local runner and through the Nginx gateway; it authenticates after the 401 challenge with Basic
// (the username and an API token). Every test passes except those listed here, each for a reason
// the contract requires or a feature beyond it (docs/user-guide.md "Mount it"); the test asserts exactly that
// set, so a new failure or a newly passing test both show.
const EXPECTED_FAILURES: Record<string, Record<string, string>> = {
  basic: {},
  copymove: {},
  props: {},
};

interface GroupResult {
  run: number;
  passed: number;
  failed: string[];
  out: string;
}

function parse(out: string): GroupResult {
  const summary = /summary for `\w+': of (\d+) tests run: (\d+) passed, (\d+) failed/.exec(out);
  const failed = [...new Set([...out.matchAll(/(\d+)\. (\w+)\.* FAIL/g)].map((m) => `${m[1]}. ${m[2]}`))];
  return { run: Number(summary?.[1] ?? -1), passed: Number(summary?.[2] ?? -1), failed, out };
}

t.test('litmus: basic, copymove and props on /data/{user}/.home/', async (t) => {
  await ensureClients(['litmus']);
  const s = await setup(t);
  const cwd = mkdtempSync(path.join(tmpdir(), 'mlp-litmus-')); // litmus writes debug.log here
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  for (const g of s.gateways) {
    t.test(`through ${g.name}`, async (t) => {
      for (const [group, expected] of Object.entries(EXPECTED_FAILURES)) {
        const { out } = await run('litmus', [`${g.url}/data/${s.user}/.home/`, s.user, s.token], { env: { TESTS: group }, cwd, timeoutMs: 120_000 });
        const result = parse(out);
        t.ok(result.run > 0, `${group}: litmus ran`);
        if (!t.same(result.failed.sort(), Object.keys(expected).sort(), `${group}: exactly the listed tests fail`)) t.comment(out);
        t.equal(result.passed, result.run - Object.keys(expected).length, `${group}: ${result.passed} of ${result.run} pass`);
        t.notMatch(out, /SKIPPED/, `${group}: no test skipped`);
        t.notMatch(out, /401|could not authenticate/i, `${group}: authenticated after the challenge`);
      }
    });
  }
  // Every listed failure says why.
  t.ok(
    Object.values(EXPECTED_FAILURES).every((g) => Object.values(g).every((why) => why.length > 0)),
    'every failure has its reason',
  );
});
