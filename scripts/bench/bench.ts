// `npm run bench`: every benchmark (docs/benchmarks.md) in sequence, each as its own process (built once
// first), then the Markdown table rendered into docs/benchmarks.md between the bench markers.
//   npm run bench [-- --quick] [-- --only api,cold] [-- --no-readme] [-- --render (the table from bench/report.json only)]
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBuilt, REPORT, ROOT, say, servers } from './lib.js';
import { renderTable, replaceRegion, type Report } from './report.js';

export const BENCHES = ['api', 'cold', 'transfer', 'tcc', 'relay', 'scale', 'sweep', 'predict'] as const;
/** Arguments a benchmark gets in the suite beside --quick: predict measures the Nginx app gateway too. */
const SUITE_ARGS: Partial<Record<(typeof BENCHES)[number], string[]>> = { predict: ['--nginx'] };

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, 'no-readme': { type: 'boolean', default: false }, render: { type: 'boolean', default: false } },
});
const chosen = args.render ? [] : args.only ? args.only.split(',') : [...BENCHES];
const unknown = chosen.filter((b) => !(BENCHES as readonly string[]).includes(b));
if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHES.join(', ')}`);

if (!args.render) ensureBuilt();
// A full run starts a fresh report, so the table never mixes runs; --only adds to the last one.
if (!args.only && !args.render) rmSync(REPORT, { force: true });
// FerretDB and Kafka once for every benchmark that wants them (or the ones the environment names).
const infra = chosen.some((b) => ['tcc', 'relay', 'scale'].includes(b)) ? await servers({ mongo: true, kafka: chosen.includes('relay') }) : undefined;
const infraEnv = { ...(infra?.mongo ? { MLP_TEST_MONGO_URL: infra.mongo } : {}), ...(infra?.kafka ? { MLP_TEST_KAFKA_BROKERS: infra.kafka } : {}) };
const failed: string[] = [];
for (const name of chosen) {
  const t0 = Date.now();
  say(`\n== ${name}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, `scripts/bench/${name}.ts`), ...(args.quick ? ['--quick'] : []), ...(SUITE_ARGS[name as (typeof BENCHES)[number]] ?? [])], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, ...infraEnv, MLP_BENCH_NO_BUILD: '1' },
  });
  say(`== ${name}: ${r.status === 0 ? 'done' : `FAILED (${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (r.status !== 0) failed.push(name);
}
await infra?.stop();
const report = JSON.parse(readFileSync(REPORT, 'utf8')) as Report;
const table = renderTable(report);
if (!args['no-readme']) {
  const readme = path.join(ROOT, 'docs/benchmarks.md');
  writeFileSync(readme, replaceRegion(readFileSync(readme, 'utf8'), table));
  say(`\ndocs/benchmarks.md: the bench table was rewritten (${REPORT} holds the figures)`);
}
if (failed.length) {
  say(`failed: ${failed.join(', ')}`);
  process.exit(1);
}
