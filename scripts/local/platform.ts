import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { appGatewayUrl, type Config } from '../../shared/config.js';
import { createDeps, type Deps, type Overrides } from '../../shared/deps.js';
import { createAppGateway } from '../../shared/apps/gateway.js';
import { createFaasServer } from '../../shared/http/server.js';
import { createRouter } from '../../shared/http/router.js';
import { createUpgrader } from '../../shared/http/upgrade.js';
import type { Logger } from '../../shared/log.js';
import { loadFunctions } from '../../shared/registry.js';
import { runtimes } from '../../templates/runtimes.js';
import { startScheduler } from './scheduler.js';

export interface Platform {
  url: string;
  appUrl: string;
  deps: Deps;
  close(): Promise<void>;
}

/**
 * The whole platform in one process: every registered function behind one router on
 * MLP_PORT, the app gateway on MLP_APP_PORT, embedded adapters unless configured otherwise.
 */
export async function startPlatform(config: Config, log: Logger, overrides: Overrides = {}): Promise<Platform> {
  const deps = await createDeps(config, log, { runtimes, ...overrides });
  try {
    const fns = await loadFunctions();
    const gateway = createFaasServer({ dispatch: createRouter(fns, deps), log, ready: () => deps.store.ping(), upgrade: createUpgrader(fns, deps) });
    // Always-on parts (the metrics relay, the app watcher) start with the platform and stop before the store closes.
    const services: { stop(): Promise<void> }[] = [];
    for (const fn of fns) if (fn.service) services.push(await fn.service.start(deps));
    const apps = createAppGateway(deps);
    const port = await listen(gateway, config.port, config.host);
    const appPort = await listen(apps, config.appPort, config.host);
    if (!config.publicUrl) deps.gateway.url = `http://${config.host}:${port}`;
    deps.appGateway.url = appGatewayUrl(config, appPort);
    const scheduler = startScheduler(fns, deps);
    log.info('platform started', { functions: fns.length, port, app_port: appPort, store: deps.store.kind, bus: deps.bus.kind });
    return {
      url: `http://${config.host}:${port}`,
      appUrl: `http://${config.host}:${appPort}`,
      deps,
      async close() {
        for (const service of services) await service.stop();
        await Promise.all([stop(gateway), stop(apps), scheduler.stop()]);
        await deps.close();
      },
    };
  } catch (err) {
    await deps.close();
    throw err;
  }
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is already in use (set MLP_PORT / MLP_APP_PORT to choose others)`) : err),
    );
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** Stops accepting, lets in-flight requests finish, then closes idle keep-alive sockets. */
function stop(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeIdleConnections();
  });
}
