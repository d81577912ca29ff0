// `npm run runtimes`: builds the Python environments of the runtimes this installation offers
// (MLP_RUNTIMES, default tf,torch) now, with pip's progress, instead of on the first job that
// needs each. Idempotent: a built environment is kept (shared/runtimes/python-env.ts).
// --json prints {runtime: folder of its environment} on stdout once they are built (what
// `npm run cluster:local` hands the kubelet stand-in as each runtime image's Python environment).
import { loadConfig } from '../shared/config/load.js';
import { createLogger } from '../shared/core/log.js';
import { createPythonEnvs } from '../shared/runtimes/python-env.js';

const config = loadConfig(process.env);
const log = createLogger({ component: 'runtimes', sinks: [(line) => process.stderr.write(`${line}\n`)] });
const envs = createPythonEnvs({
  cache: config.runtimeCache,
  python: config.python,
  log,
  // pip's own lines of what it fetches and installs (not its every notice).
  progress: (runtime, line) => {
    if (/^(Collecting|Downloading|Installing|Successfully|ERROR)/.test(line.trim())) process.stderr.write(`runtime ${runtime}: ${line.trim()}\n`);
  },
});
let failed = false;
const built: Record<string, string> = {};
for (const runtime of config.runtimes) {
  const started = Date.now();
  try {
    const python = await envs.ensure(runtime);
    built[runtime] = envs.dir(runtime);
    process.stderr.write(`runtime ${runtime}: ready (${python}; ${Math.round((Date.now() - started) / 1000)} s)\n`);
  } catch (err) {
    failed = true;
    process.stderr.write(`runtime ${runtime}: ${(err as Error).message}\n`);
  }
}
if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(built)}\n`);
process.exit(failed ? 1 : 0);
