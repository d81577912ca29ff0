// Typed access to scripts/infra/nginx.mjs (plain JavaScript, without a declaration file).
export interface Gateway {
  url: string;
  port: number;
  pid: number;
  /** Nginx's stderr and error.log, for failure messages. */
  errorLog(): string;
  stop(): Promise<void>;
}

/** A gateway that also serves the app gateway (nginx/mlp-apps-server.conf) on its own port. */
export interface GatewayWithApps extends Gateway {
  appUrl: string;
  appPort: number;
}

export interface StartNginxOptions {
  /** 'host:port' serving every function, or a map from function name to 'host:port'. */
  upstream: string | Record<string, string>;
  port?: number;
  /** Also serve the app gateway in a second server {}; its check goes to the upstream's apps-endpoint. */
  appGateway?: boolean;
  /** The app gateway's port (default: a free one); only with appGateway. */
  appPort?: number;
  /** Folder with mlp-routes.conf, mlp-server.conf (and mlp-apps-server.conf); default the checkout's nginx/. */
  configDir?: string;
  log?: (msg: string) => void;
}

type StartNginx = (opts: StartNginxOptions) => Promise<Gateway>;

// A specifier TypeScript does not resolve, so the untyped module does not break strict mode.
const MODULE = new URL('../../scripts/infra/nginx.mjs', import.meta.url).href;

export async function startNginx(opts: StartNginxOptions & { appGateway: true }): Promise<GatewayWithApps>;
export async function startNginx(opts: StartNginxOptions): Promise<Gateway>;
export async function startNginx(opts: StartNginxOptions): Promise<Gateway> {
  const mod = (await import(MODULE)) as { startNginx: StartNginx };
  return mod.startNginx(opts);
}
