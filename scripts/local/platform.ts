import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { appGatewayUrl, type Config } from '../../shared/config/load.js';
import type { Deps, Overrides } from '../../shared/wiring/deps.js';
import { createAppGateway } from '../../shared/apps/gateway.js';
import type { Logger } from '../../shared/core/log.js';
import { loadFunctions } from '../../shared/routes/registry.js';
import { stopServing, wireFunctions } from '../../shared/wiring/functions.js';
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
  const fns = await loadFunctions();
  const { deps, server: gateway, close } = await wireFunctions(fns, config, log, { overrides: { runtimes, ...overrides } });
  try {
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
      close: () => close(() => Promise.all([stopServing(apps), scheduler.stop()])),
    };
  } catch (err) {
    await close();
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
