import { loadConfig } from '../../shared/config/load.js';
import { ConfigError } from '../../shared/core/errors.js';
import { createLogger, fileSink, stdoutSink } from '../../shared/core/log.js';
import { startPlatform } from './platform.js';

/** `npm start`: the platform on embedded defaults (or the servers the environment names). */
async function main(): Promise<void> {
  // Everything the platform and its jobs create under MLP_ROOT (the store with password hashes,
  // secrets, logs, datasets, homes, workspaces, models) is for the platform's user alone: 0600/0700.
  process.umask(0o077);
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mlp: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const files = fileSink(config.root);
  // Request logs go to MLP_ROOT/log/; the terminal gets warnings and the start-up banner.
  const quietStdout = (line: string, component: string) => {
    if (!/"level":"(info|debug)"/.test(line)) stdoutSink(line, component);
  };
  const log = createLogger({ component: 'platform', level: config.logLevel, sinks: [quietStdout, files] });
  const platform = await startPlatform(config, log);
  process.stdout.write(
    `\nMLP is running\n  gateway:     ${platform.url}/\n  app gateway: ${platform.appUrl}/${platform.deps.appGateway.url === platform.appUrl ? '' : ` (apps name it ${platform.deps.appGateway.url}/, MLP_APP_URL)`}\n  data:        ${config.root}\n  logs:        ${config.root}/log/\n  jobs:        ${sandboxLine(platform.deps.jobSandbox)}\n  limits:      ${limitsLine(platform.deps.jobLimits)}\nPress Ctrl-C to stop.\n`,
  );
  // Never silently: jobs unconfined, or not run at all, is said where the operator looks.
  if (platform.deps.jobSandbox.mode !== 'on') process.stderr.write(sandboxWarning(platform.deps.jobSandbox));
  if (platform.deps.jobLimits.mode !== 'on') process.stderr.write(sandboxWarning(platform.deps.jobLimits, 'LIMITS'));
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\nstopping (${signal})…\n`);
    try {
      await platform.close();
      await files.close();
      process.exit(0);
    } catch (err) {
      process.stderr.write(`mlp: stopping failed: ${(err as Error).message}\n`);
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

function sandboxLine(s: { mode: string; detail: string }): string {
  if (s.mode === 'on') return s.detail;
  return s.mode === 'off' ? 'UNCONFINED (MLP_JOB_SANDBOX=off; see below)' : 'REFUSED: the job sandbox is unavailable (see below)';
}

function limitsLine(s: { mode: string; detail: string }): string {
  if (s.mode === 'on') return s.detail;
  return s.mode === 'off' ? 'NONE (MLP_JOB_LIMITS=off; see below)' : 'REFUSED: job limits cannot be enforced (see below)';
}

function sandboxWarning(s: { mode: string; detail: string }, what: 'SANDBOX' | 'LIMITS' = 'SANDBOX'): string {
  const bar = '!'.repeat(78);
  const title = s.mode === 'off' ? (what === 'SANDBOX' ? 'WARNING: JOBS RUN UNCONFINED' : 'WARNING: JOBS RUN WITHOUT LIMITS') : 'ERROR: JOBS WILL NOT RUN';
  return `\n${bar}\n${title}\n${s.detail}\n${bar}\n\n`;
}

main().catch((err: unknown) => {
  process.stderr.write(`mlp: could not start: ${(err as Error).message}\n`);
  process.exit(1);
});
