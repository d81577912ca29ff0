import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { loadConfig } from '../../shared/config/load.js';
import { createDeps, type Deps, type Overrides } from '../../shared/wiring/deps.js';
import { scopeFunction } from '../../shared/wiring/uses.js';
import { toFaasHandler, type LoadedFunction } from '../../shared/http/adapter.js';
import { FunctionContext } from '../../shared/http/faas.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { endRecorded } from '../../shared/orchestrator/local-record.js';
import type { Handler, RouteDef } from '../../shared/routes/route.js';
import { runtimes } from '../../templates/runtimes.js';

/** Real dependencies on an embedded store in a temporary folder, closed when the test ends. */
export async function testDeps(t: Test, env: Record<string, string> = {}, overrides: Overrides = {}): Promise<Deps & { logs: string[] }> {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-unit-'));
  const sink = memorySink();
  const deps = await createDeps(loadConfig({ MLP_ROOT: root, ...env }), createLogger({ component: 'test', sinks: [sink], level: 'debug' }), { runtimes, ...overrides });
  t.teardown(async () => {
    await deps.close();
    // Local jobs outlive close() (they are adopted by the next start): end this root's own, and
    // retry the removal while a wrapper may still be writing an exit record into it.
    endRecorded(path.join(root, 'orchestrator'));
    rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });
  return Object.assign(deps, { logs: sink.lines });
}

export interface Invocation {
  method?: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

/** One request through the template's adapter, without a socket: what OpenFaaS would hand the function. */
export async function invoke(route: RouteDef, handle: unknown, deps: Deps, req: Invocation): Promise<{ status: number; body: unknown; headers: Record<string, string> }> {
  // The handler sees only the ports its route declares, as in a function process (shared/wiring/uses.ts).
  const fn: LoadedFunction = scopeFunction({ route, handle: handle as Handler<RouteDef> }, deps);
  const context = new FunctionContext();
  const raw = req.body === undefined ? '' : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
  await toFaasHandler(fn, deps)({ body: Buffer.from(raw), headers: req.headers ?? {}, method: req.method ?? route.method, query: req.query ?? {}, path: req.path }, context);
  const value = context.outcome()?.value;
  const text = typeof value === 'string' ? value : '';
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (e.g. an HTML page): the raw text is the body.
  }
  return { status: context.status(), body, headers: context.headers() };
}

export const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
