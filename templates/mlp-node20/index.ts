import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../shared/config.js';
import { createDeps } from '../../shared/deps.js';
import { createFaasServer, type Dispatch } from '../../shared/http/server.js';
import { createRouter } from '../../shared/http/router.js';
import { createUpgrader } from '../../shared/http/upgrade.js';
import { createLogger, fileSink, stdoutSink } from '../../shared/log.js';
import { loadFunction } from '../../shared/registry.js';
import { loadFunctionSecrets, OPENFAAS_SECRETS_DIR, withFunctionSecrets } from '../../shared/secrets.js';
import { exclusiveTrigger } from '../../shared/store/lease.js';

/**
 * The server entry of one function, as of-watchdog `mode=http` (upstream_url
 * http://127.0.0.1:3000, PORT=3000 in the image) and Knative (PORT injected, default 8080)
 * both run it. It serves only the function named by MLP_FUNCTION, plus /_/health and /_/ready.
 */
async function main(): Promise<void> {
  // What a function creates on the shared volume (datasets, homes, models, logs) is for the
  // platform's user alone: 0600/0700.
  process.umask(0o077);
  const name = process.env.MLP_FUNCTION;
  if (!name) throw new Error('MLP_FUNCTION must name the function to serve');
  const config = loadConfig(process.env);
  const files = fileSink(config.root);
  const log = createLogger({ component: name, level: config.logLevel, sinks: [stdoutSink, files] });
  const fn = await loadFunction(name);
  // Only the secrets this function's route needs, from its environment or the files OpenFaaS
  // mounts (MLP_SECRETS_DIR: another folder, for tests); never from MLP_ROOT, the volume every
  // function shares (shared/secrets.ts).
  const secrets = await loadFunctionSecrets(fn.route, process.env, process.env.MLP_SECRETS_DIR || OPENFAAS_SECRETS_DIR);
  const deps = await createDeps(withFunctionSecrets(config, secrets), log);
  const route = createRouter([fn], deps);
  // A scheduled function's pass runs under a lease in the store: a second trigger while one
  // runs (two cron deliveries, two replicas) answers 200 saying it skipped.
  const scheduled = fn.route.schedule ? route(fn.route.method, fn.route.path).target : undefined;
  const trigger = scheduled && 'json' in scheduled ? exclusiveTrigger(fn.route.name, scheduled.json, { store: deps.store, now: deps.now, log }) : undefined;
  const dispatch: Dispatch = (method, path) => {
    if (!trigger) return route(method, path);
    if (method === fn.route.method && path === fn.route.path) return { target: { json: trigger } };
    if (method !== 'POST' || path !== '/') return route(method, path);
    // OpenFaaS's cron-connector invokes a scheduled function with POST / and no token. A
    // reconciler only enforces the platform's own rules and is idempotent, so a trigger is harmless.
    return { target: { json: (event) => trigger({ ...event, path: fn.route.path, headers: { ...event.headers, authorization: `Bearer ${deps.serviceToken}` } }) } };
  };
  const server = createFaasServer({ dispatch, log, ready: () => deps.store.ping(), upgrade: createUpgrader([fn], deps) });
  const service = fn.service ? await fn.service.start(deps) : undefined;
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
    await service?.stop();
    const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    server.closeIdleConnections();
    await closed;
    await deps.close();
    await files.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'function failed to start', err: (err as Error).message })}\n`);
  process.exit(1);
});
