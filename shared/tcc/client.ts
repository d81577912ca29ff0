import { v4 as uuid } from 'uuid';
import { Forbidden, isClientError, Unavailable } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { CODE_HEADER } from '../http/error-header.js';
import { isRefusalCode, type Applier, type RequestType } from './ledger.js';
import type { ResourceManager } from './resource-manager.js';
import { toExact } from './amounts.js';

/** API units, as the routes take them (cpu in cores). */
export interface ApiAmounts {
  cpu?: number;
  gpu?: number;
  ram?: number;
  rom?: number;
}

export interface TryBody extends ApiAmounts {
  id: string;
  applier: Applier;
  request_type: RequestType;
  tenant?: string;
}

/** How the client reaches the Resource-manager: Forbidden is final, anything else may be retried. */
export interface TccTransport {
  try(body: TryBody): Promise<void>;
  confirm(body: { id: string; applier: Applier }): Promise<void>;
  cancel(body: { id: string; applier: Applier }): Promise<void>;
}

/** Same process (the local runner): straight to the Resource-manager's ledger. */
export function inProcessTransport(rm: ResourceManager): TccTransport {
  return {
    try: (b) => rm.try({ id: b.id, applier: b.applier, type: b.request_type, tenant: b.tenant ?? 'default', amounts: toExact(b) }),
    confirm: (b) => rm.confirm(b.id, b.applier),
    cancel: (b) => rm.cancel(b.id, b.applier),
  };
}

/** Over HTTP with the service token (functions in a cluster, or tests against a live platform). */
export function httpTransport(baseUrl: string, serviceToken: string): TccTransport {
  const put = async (verb: string, body: unknown) => {
    let res: Response;
    try {
      res = await fetch(`${baseUrl}/api/v1/resource_request:${verb}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${serviceToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new Unavailable(`resource manager unreachable: ${(err as Error).message}`);
    }
    const text = await res.text();
    if (res.status === 200) return;
    const msg = (() => {
      try {
        return (JSON.parse(text) as { msg?: string }).msg ?? text;
      } catch {
        return text;
      }
    })();
    if (res.status === 403) {
      const code = res.headers.get(CODE_HEADER) ?? undefined;
      throw new Forbidden(msg, isRefusalCode(code) ? { code } : {});
    }
    throw new Unavailable(`resource manager answered ${res.status}: ${msg}`);
  };
  return { try: (b) => put('try', b), confirm: (b) => put('confirm', b), cancel: (b) => put('cancel', b) };
}

export interface TccClient {
  /**
   * Reserves, runs `work`, confirms. If the try is refused nothing is held; if the work
   * or the confirm fails the try is cancelled. Every try ends in confirm or cancel (or,
   * when the Resource-manager stays unreachable, in its timeout reconciler's cancel).
   */
  reserve<T>(req: { applier: Applier; tenant?: string } & ApiAmounts, work: (id: string) => Promise<T>): Promise<T>;
  /** Gives amounts back (a release try, then its confirm). */
  release(req: { applier: Applier; tenant?: string } & ApiAmounts): Promise<void>;
  try(body: TryBody): Promise<void>;
  confirm(id: string, applier: Applier): Promise<void>;
  cancel(id: string, applier: Applier): Promise<void>;
}

export function createTccClient(transport: TccTransport, opts: { log: Logger; attempts?: number; backoffMs?: number }): TccClient {
  const attempts = opts.attempts ?? 8;
  const backoffMs = opts.backoffMs ?? 100;

  /** Retries transient faults with exponential backoff; a 403 is final and not retried. */
  async function retry(what: string, op: () => Promise<void>): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        return await op();
      } catch (err) {
        if (isClientError(err) || i >= attempts) throw err;
        opts.log.warn(`${what} failed; retrying`, { attempt: i, err: (err as Error).message });
        await new Promise((r) => setTimeout(r, Math.min(backoffMs * 2 ** (i - 1), 5000)));
      }
    }
  }

  const client: TccClient = {
    try: (body) => retry(`resource try ${body.id}`, () => transport.try(body)),
    confirm: (id, applier) => retry(`resource confirm ${id}`, () => transport.confirm({ id, applier })),
    cancel: (id, applier) => retry(`resource cancel ${id}`, () => transport.cancel({ id, applier })),
    async reserve<T>(req: { applier: Applier; tenant?: string } & ApiAmounts, work: (id: string) => Promise<T>): Promise<T> {
      const id = `${req.applier}-${uuid()}`;
      try {
        await client.try({ ...req, id, request_type: 'request' });
      } catch (err) {
        // A refusal reserved nothing. After transient failures the try may have landed:
        // cancel, which also leaves a tombstone so a late copy of the try is refused.
        if (!isClientError(err)) await cancelQuietly(id, req.applier);
        throw err;
      }
      let result: T;
      try {
        result = await work(id);
      } catch (err) {
        await cancelQuietly(id, req.applier);
        throw err;
      }
      try {
        await client.confirm(id, req.applier);
      } catch (err) {
        if (!isClientError(err)) await cancelQuietly(id, req.applier);
        throw err;
      }
      return result;
    },
    async release(req) {
      const id = `${req.applier}-${uuid()}`;
      await client.try({ ...req, id, request_type: 'release' });
      try {
        await client.confirm(id, req.applier);
      } catch (err) {
        if (!isClientError(err)) await cancelQuietly(id, req.applier);
        throw err;
      }
    },
  };

  /** Cancels after a failure; if that fails too the timeout reconciler cancels the try. */
  async function cancelQuietly(id: string, applier: Applier): Promise<void> {
    try {
      await client.cancel(id, applier);
    } catch (err) {
      opts.log.error('cancel failed; the timeout reconciler will cancel the try', { id, err: (err as Error).message });
    }
  }
  return client;
}
