import { readFile } from 'node:fs/promises';
import type { Api } from './api.js';
import { waitSettled } from './wait.js';

interface App {
  name: string;
  user?: string;
  model_name: string;
  port: number;
  /** The app's base URL on the app gateway, as the platform says clients call it. */
  endpoint?: string;
  state: string;
  cpu: number;
  gpu: number;
  ram: number;
  msg?: string;
}

export interface CreateOptions {
  model: string;
  cpu?: number;
  gpu?: number;
  ram?: number;
  wait: boolean;
}

/**
 * Where the client calls apps: `override` (login --app-url, MLP_APP_URL) when given, else each
 * app's endpoint as the platform answers it; `fallback` only for a platform whose apps carry none.
 */
export interface AppGateway {
  override?: string;
  fallback: string;
}

/** The app's base URL: its endpoint, or the override's / the fallback's {user}/{app}. */
export function appBase(gw: AppGateway, user: string, app: Pick<App, 'name' | 'endpoint'>): string {
  if (gw.override) return `${gw.override}/${user}/${app.name}`;
  return app.endpoint ?? `${gw.fallback}/${user}/${app.name}`;
}

/** Where the app gateway serves an app's predictions (TensorFlow-Serving's path). */
export const predictUrl = (gw: AppGateway, user: string, app: Pick<App, 'name' | 'model_name' | 'endpoint'>) => `${appBase(gw, user, app)}/v1/models/${app.model_name}:predict`;

const describe = (a: App) => `${a.name.padEnd(20)} ${a.state.padEnd(9)} model ${a.model_name}  port ${a.port}  cpu ${a.cpu} gpu ${a.gpu} ram ${a.ram}${a.msg ? `  (${a.msg})` : ''}`;

/** Deploys a ready model and, unless told not to, waits until it serves; prints its endpoint. */
export async function create(client: Api, gw: AppGateway, user: string, name: string, opts: CreateOptions, print: (line: string) => void): Promise<void> {
  const body = {
    name,
    model_name: opts.model,
    ...(opts.cpu !== undefined ? { cpu: opts.cpu } : {}),
    ...(opts.gpu !== undefined ? { gpu: opts.gpu } : {}),
    ...(opts.ram !== undefined ? { ram: opts.ram } : {}),
  };
  let a = await client.json<App>('POST', `/api/v1/users/${user}/apps`, body);
  if (opts.wait) a = await waitSettled(() => client.json<App>('GET', `/api/v1/users/${user}/apps/${name}`));
  print(describe(a));
  if (a.state === 'error') throw new Error(`app ${name} failed: ${a.msg ?? 'no reason given'}`);
  print(`predict: POST ${predictUrl(gw, user, a)}`);
}

export async function list(client: Api, gw: AppGateway, user: string, print: (line: string) => void): Promise<void> {
  let shown = 0;
  for await (const page of client.pages<App>(`/api/v1/users/${user}/apps`)) {
    for (const a of page) print(`${describe(a)}${a.state === 'ready' ? `  ${predictUrl(gw, user, a)}` : ''}`);
    shown += page.length;
  }
  if (shown === 0) print('no apps');
}

export async function remove(client: Api, user: string, name: string, print: (line: string) => void): Promise<void> {
  const a = await client.json<App>('DELETE', `/api/v1/users/${user}/apps/${name}`);
  print(`app ${a.name} is ${a.state}`);
}

/**
 * Sends instances to the app, at the endpoint the platform gives it, and prints its answer. The
 * input is JSON: TF-Serving's request ({"instances": …} or {"inputs": …}) or a bare list of instances.
 */
export async function predict(client: Api, gw: AppGateway, token: string, user: string, name: string, input: string, print: (line: string) => void): Promise<void> {
  let body: unknown;
  try {
    body = JSON.parse(input);
  } catch (err) {
    throw new Error(`the instances are not valid JSON: ${(err as Error).message}`);
  }
  if (Array.isArray(body)) body = { instances: body };
  const app = await client.json<App>('GET', `/api/v1/users/${user}/apps/${name}`);
  const url = predictUrl(gw, user, app);
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (err) {
    throw new Error(`cannot reach app ${name} at ${appBase(gw, user, app)}: ${(err as Error).cause ? String((err as Error).cause) : (err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let msg = text;
    try {
      msg = (JSON.parse(text) as { msg?: string }).msg ?? text;
    } catch {
      // not JSON: the raw text says what went wrong
    }
    throw new Error(msg || `HTTP ${res.status}`);
  }
  print(text);
}

/** The instances: from a file, or from stdin when no file (or "-") is given. */
export async function readInput(file: string | undefined): Promise<string> {
  if (file && file !== '-') return readFile(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
