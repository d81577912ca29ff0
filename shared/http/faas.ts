/**
 * The OpenFaaS Node handler contract (openfaas/templates node20):
 * `async (event, context) => context.status(n).headers({...}).succeed(value)`.
 * Written here because no npm package provides it; every function is served through it.
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
