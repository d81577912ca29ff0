// Typed access to scripts/infra/nginx.mjs (plain JavaScript, without a declaration file).
export interface Gateway {
  url: string;
  port: number;
  pid: number;
  /** Nginx's own folder: its config, logs and the app gateway's kept checks (app-checks/). */
  dir: string;
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
  /** The users' check epochs the app gateway reads (MLP_ROOT/gateway/epochs); default an empty folder of its own. */
  epochsDir?: string;
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

interface InfraHelpers {
  /** Installs Nginx and the modules the generated config needs, if missing. */
  ensureNginx(): void;
  /** `load_module` lines for the dynamic modules the generated config needs (dav-ext, njs). */
  loadModuleLines(): string[];
  /** The app gateway's http-level lines, as the test infra writes them. */
  appCheckHttpLines(opts: { configDir: string; epochsDir: string; cacheDir: string }): string[];
}

/** The test infra's own config lines (scripts/infra/nginx.mjs), for configs a test writes itself. */
export async function nginxInfra(): Promise<InfraHelpers> {
  return (await import(MODULE)) as InfraHelpers;
}
