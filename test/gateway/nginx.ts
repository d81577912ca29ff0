// Typed access to scripts/infra/nginx.mjs (plain JavaScript, without a declaration file).
export interface Gateway {
  url: string;
  port: number;
  pid: number;
  /** Nginx's stderr and error.log, for failure messages. */
  errorLog(): string;
  stop(): Promise<void>;
}

export interface StartNginxOptions {
  /** 'host:port' serving every function, or a map from function name to 'host:port'. */
  upstream: string | Record<string, string>;
  port?: number;
  /** Folder with mlp-routes.conf and mlp-server.conf; default the checkout's nginx/. */
  configDir?: string;
  log?: (msg: string) => void;
}

type StartNginx = (opts: StartNginxOptions) => Promise<Gateway>;

// A specifier TypeScript does not resolve, so the untyped module does not break strict mode.
const MODULE = new URL('../../scripts/infra/nginx.mjs', import.meta.url).href;

export async function startNginx(opts: StartNginxOptions): Promise<Gateway> {
  const mod = (await import(MODULE)) as { startNginx: StartNginx };
  return mod.startNginx(opts);
}
