import type { Collection, Doc, Store } from '../store/port.js';
import type { Holder } from '../tcc/hold.js';

export type AppState = 'creating' | 'ready' | 'error' | 'deleting';

export interface AppDoc extends Holder {
  user: string;
  model_name: string;
  gpu: number;
  cpu: number;
  ram: number;
  port: number;
  state: AppState;
  /** Runtime state, written by the app watcher only. */
  /** The server workload was started (the orchestrator knows it by uid). */
  launched?: boolean;
  /** Failures since the server last served for a while; reaching the limit ends in error. */
  failures?: number;
  /** Not before this time is a failed server started again (backoff). */
  restart_at?: string;
  /** When the current server was started; a server not ready in time counts as failed. */
  started_at?: string;
  /** Since when the current server has answered its health check. */
  serving_since?: string;
}

export type AppView = Pick<AppDoc, 'name' | 'user' | 'tenant' | 'gpu' | 'cpu' | 'ram' | 'model_name' | 'port' | 'state' | 'msg' | 'created_at' | 'updated_at'> & {
  /** Where clients call the app: the app gateway's base URL, then /{user}/{app}. */
  endpoint: string;
};

/** The app's base URL on the app gateway whose base URL is `appGatewayUrl`. */
export const appEndpoint = (appGatewayUrl: string, user: string, name: string) => `${appGatewayUrl}/${user}/${name}`;

/**
 * An App as the API answers it. `endpoint` is not stored: it comes from the app gateway's URL
 * of the moment (deps.appGateway.url, MLP_APP_URL), so a changed URL shows in every app at once.
 */
export function appView(a: AppDoc, appGatewayUrl: string): AppView {
  const { name, user, tenant, gpu, cpu, ram, model_name, port, state, msg, created_at, updated_at } = a;
  return { name, user, tenant, gpu, cpu, ram, model_name, port, endpoint: appEndpoint(appGatewayUrl, user, name), state, ...(msg ? { msg } : {}), created_at, updated_at };
}

/**
 * A port taken by a live app (docs/api.md#applications: unique among live apps). The _id is the port, so the
 * store's unique _id makes two creates that pick the same port collide: one of them picks again.
 */
export interface PortClaim extends Doc {
  app_uid: string;
  user: string;
  name: string;
}

/** docs/api.md#applications: ports of applications. */
export const PORT_MIN = 31000;
export const PORT_MAX = 50000;

export const appId = (user: string, name: string) => `${user}/${name}`;
export const appsCollection = (store: Store): Collection<AppDoc> => store.collection<AppDoc>('app_group');
export const portsCollection = (store: Store): Collection<PortClaim> => store.collection<PortClaim>('app_port');
