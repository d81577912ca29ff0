import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Static, TSchema } from '@sinclair/typebox';
import type { WebSocket } from 'ws';
import type { Logger } from '../core/log.js';
import type { Deps } from '../wiring/deps.js';
import type { Principal } from '../auth/principal.js';
import type { SecretName } from '../config/secrets.js';
import type { Use } from '../wiring/uses.js';
import type { PathParams } from '../http/path-pattern.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD' | 'OPTIONS';

/**
 * Who may call a route:
 * - none: anyone (register, the auth check itself, which reads the token on its own)
 * - basic: username and password in a Basic header (to get a token)
 * - owner: a Bearer user token of the path's {user}
 * - user: any valid Bearer user token
 * - service: the platform's service token (internal routes)
 * - owner-or-job: the owner's token, or the job token of the path's {job} (heartbeats, metrics)
 */
export type AuthMode = 'none' | 'basic' | 'owner' | 'user' | 'service' | 'owner-or-job';

export interface RouteDef<B extends TSchema | undefined = TSchema | undefined, P extends string = string> {
  /** Function name: kebab-case, unique; names the folder, the image and the Knative service. */
  name: string;
  /** 'ANY' for a stream route that speaks a protocol of many methods (WebDAV). */
  method: Method | 'ANY';
  /** Path with {param} placeholders exactly as docs/api.md writes it, colon verbs included. */
  path: P;
  auth: AuthMode;
  /** JSON Schema of the body; 'ignored' for routes whose body the contract says to ignore. */
  body?: B | 'ignored';
  /** Patterns of path parameters that differ from the contract's default. */
  params?: Record<string, string>;
  /** Status of a successful answer (default 200). */
  status?: number;
  /** Internal routes serve the platform's own functions; the public gateway refuses them. */
  internal?: boolean;
  /**
   * The handler gets the raw request and response (large or streamed bodies, WebDAV, Range);
   * the adapter still authenticates and checks the path, and maps errors thrown before it answers.
   */
  stream?: boolean;
  /** Always on (a consumer beside the routes): never scaled to zero. */
  alwaysOn?: boolean;
  /** At most this many instances (the deployment's max scale); 1 when the function keeps per-process state. */
  maxScale?: number;
  /** Scheduled reconcilers: run every so many seconds (local runner) or on this cron (cluster). */
  schedule?: { everySeconds: number; cron: string };
  /**
   * Secrets the handler uses beyond what its auth mode implies (shared/config/secrets.ts secretsOf):
   * 'signing-key' where it issues tokens or verifies one itself, 'service-token' where it calls
   * an internal route. A function's deployment gets exactly these plus its auth mode's, no more.
   */
  secrets?: SecretName[];
  /**
   * The injected ports the handler (and its upgrade and service) uses beyond configuration, log,
   * clock, tokens and authentication (shared/wiring/uses.ts): a function builds only these, and its
   * code sees only these. The store also comes with an auth mode that reads users.
   */
  uses?: Use[];
  /**
   * The handler calls the orchestrator's API-backed methods (start, stop, status, forget, watch,
   * portAvailable): on Kubernetes it runs as the ServiceAccount mlp-orchestrator, every other
   * function with no token at all. endpoint() alone needs none (it names the app's Service).
   * test/generated/orchestrator-marker.test.ts checks this against the handlers' imports.
   */
  orchestrator?: boolean;
  description: string;
}

export type BodyOf<R> = R extends RouteDef<infer B> ? (B extends TSchema ? Static<B> : undefined) : never;

/** The path parameters of a route, typed from its path string (`{user}` gives `params.user`). */
export type ParamsOf<R> = R extends { path: infer P extends string } ? PathParams<P> : Record<string, string>;

export interface Input<B, P = Record<string, string>> {
  params: P;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  body: B;
  principal: Principal;
  requestId: string;
}

export type Handler<R extends RouteDef> = (input: Input<BodyOf<R>, ParamsOf<R>>, deps: Deps) => Promise<unknown>;

export interface StreamInput extends Omit<Input<undefined>, 'body'> {
  method: string;
  req: IncomingMessage;
  res: ServerResponse;
  log: Logger;
}

/** A stream route's handler answers on `res` itself; what it throws before answering is mapped as usual. */
export type StreamHandler = (input: StreamInput, deps: Deps) => Promise<void>;

export function defineRoute<B extends TSchema | undefined = undefined, const P extends string = string>(def: RouteDef<B, P>): RouteDef<B, P> {
  if (!/^[a-z][a-z0-9-]{1,62}$/.test(def.name)) throw new Error(`route name "${def.name}" must be kebab-case`);
  if (!def.path.startsWith('/')) throw new Error(`route ${def.name}: path must start with /`);
  return def;
}

/** A handler's answer when it needs a status or headers other than the route's. */
export class Reply {
  constructor(
    readonly body: unknown,
    readonly status?: number,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** A WebSocket on the route's path (the upgrade of a GET); the adapter authenticated it first. */
export interface UpgradeInput extends Omit<Input<undefined>, 'body' | 'headers'> {
  ws: WebSocket;
  log: Logger;
}
export type UpgradeHandler = (input: UpgradeInput, deps: Deps) => Promise<void>;

/** An always-on part of a function (a consumer): started with the process, stopped on SIGTERM. */
export interface Service {
  start(deps: Deps): Promise<{ stop(): Promise<void> }>;
}
