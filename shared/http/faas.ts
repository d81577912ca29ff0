import type { Logger } from '../core/log.js';
import type { Endpoint } from './adapter.js';
import { errorAnswer } from './answer.js';

/**
 * The OpenFaaS Node handler contract (openfaas/templates node20):
 * `async (event, context) => context.status(n).headers({...}).succeed(value)`.
 * Written here because no npm package provides it; the adapter offers every function under it
 * (toFaasHandler in shared/http/adapter.ts) and the server takes handlers written to it (fromFaasHandler).
 */
export interface FunctionEvent {
  /** Raw body bytes (the adapter parses JSON itself, with a size limit). */
  body: Buffer;
  headers: Record<string, string | undefined>;
  method: string;
  query: Record<string, string>;
  /** Path without the query string, as the watchdog forwards it. */
  path: string;
}

export class FunctionContext {
  private statusCode = 200;
  private headerValues: Record<string, string> = {};
  private result: { value: unknown; failed: boolean } | undefined;

  status(): number;
  status(code: number): this;
  status(code?: number): number | this {
    if (code === undefined) return this.statusCode;
    this.statusCode = code;
    return this;
  }

  headers(): Record<string, string>;
  headers(values: Record<string, string>): this;
  headers(values?: Record<string, string>): Record<string, string> | this {
    if (values === undefined) return this.headerValues;
    this.headerValues = { ...this.headerValues, ...values };
    return this;
  }

  succeed(value: unknown): void {
    this.result = { value, failed: false };
  }

  fail(value: unknown): void {
    this.result = { value, failed: true };
  }

  /** What the handler answered; undefined when it returned without calling succeed/fail. */
  outcome(): { value: unknown; failed: boolean } | undefined {
    return this.result;
  }
}

export type FaasHandler = (event: FunctionEvent, context: FunctionContext) => Promise<unknown>;

/**
 * A handler written to the OpenFaaS contract as an endpoint of the server: a returned value is the
 * answer when it called neither succeed() nor fail(), and fail() is a fault (503; OpenFaaS answers
 * 500, which the contract allows nowhere). The platform's own routes answer without a context.
 */
export function fromFaasHandler(handler: FaasHandler, log: Logger): Endpoint {
  return async (event) => {
    const requestId = event.headers['x-request-id'] ?? '';
    const context = new FunctionContext();
    try {
      const returned = await handler(event, context);
      const outcome = context.outcome();
      if (outcome?.failed) throw outcome.value instanceof Error ? outcome.value : new Error(String(outcome.value));
      const value = outcome ? outcome.value : returned;
      return { status: context.status(), headers: context.headers(), body: typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value ?? '') };
    } catch (err) {
      return errorAnswer(err, log.child({ request_id: requestId }), requestId);
    }
  };
}
