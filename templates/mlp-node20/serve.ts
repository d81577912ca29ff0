import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../shared/config/load.js';
import { usesOf } from '../../shared/wiring/uses.js';
import { createLogger, fileSink, stdoutSink } from '../../shared/core/log.js';
import type { LoadedFunction } from '../../shared/http/adapter.js';
import { loadFunctionSecrets, OPENFAAS_SECRETS_DIR, withFunctionSecrets } from '../../shared/config/secrets.js';
import { wireFunctions, withCronTrigger } from '../../shared/wiring/functions.js';
import { runtimes } from '../runtimes.js';

/**
 * The server of one function, as of-watchdog `mode=http` (upstream_url http://127.0.0.1:3000,
 * PORT=3000 in the image) and Knative (PORT injected, default 8080) both run it. It serves only
 * the function named by `name` (MLP_FUNCTION), plus /_/health and /_/ready. `load` gives that
 * function: from dist/functions/ (templates/mlp-node20/index.ts) or bundled in beside this code
 * (the per-function bundles of scripts/bundle-functions.mjs, which the image runs).
 */
export function serveFunction(name: string | undefined, load: (name: string) => Promise<LoadedFunction>): void {
  main(name, load).catch((err: unknown) => {
    process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'function failed to start', err: (err as Error).message })}\n`);
    process.exit(1);
  });
}

async function main(name: string | undefined, load: (name: string) => Promise<LoadedFunction>): Promise<void> {
  // What a function creates on the shared volume (datasets, homes, models, logs) is for the
  // platform's user alone: 0600/0700.
  process.umask(0o077);
  if (!name) throw new Error('MLP_FUNCTION must name the function to serve');
  const config = loadConfig(process.env);
  const files = fileSink(config.root);
  const log = createLogger({ component: name, level: config.logLevel, sinks: [stdoutSink, files] });
  const fn = await load(name);
  // Only the secrets this function's route needs, from its environment or the files OpenFaaS
  // mounts (MLP_SECRETS_DIR: another folder, for tests); never from MLP_ROOT, the volume every
  // function shares (shared/config/secrets.ts).
  const secrets = await loadFunctionSecrets(fn.route, process.env, process.env.MLP_SECRETS_DIR || OPENFAAS_SECRETS_DIR);
  const { server, close } = await wireFunctions([fn], withFunctionSecrets(config, secrets), log, { overrides: { runtimes }, around: withCronTrigger(fn, log), uses: usesOf(fn.route) });
  const port = Number(process.env.PORT ?? 8080);
  server.listen(port, process.env.MLP_LISTEN_HOST ?? '0.0.0.0', () => {
    log.info('function listening', { port: (server.address() as AddressInfo).port, route: `${fn.route.method} ${fn.route.path}` });
  });
  // Scale-to-zero sends SIGTERM: the consumer finishes its in-flight message, in-flight requests
  // finish, then the store and bus close.
  process.once('SIGTERM', () => {
    void shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('shutdown failed', { err: (err as Error).message });
        process.exit(1);
      },
    );
  });
  async function shutdown(): Promise<void> {
    await close();
    await files.close();
  }
}
