// The helpers that write a field of an OpenAPI schema (scripts/gen/openapi-schemas.ts, openapi-experiments.ts).

export type Json = Record<string, unknown>;

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const str = (description: string, extra: Json = {}) => ({ type: 'string', description, ...extra });
export const int = (description: string, extra: Json = {}) => ({ type: 'integer', description, ...extra });
export const num = (description: string, extra: Json = {}) => ({ type: 'number', description, ...extra });
export const time = (what: string) => str(`${what} (ISO-8601)`, { format: 'date-time' });
export const stamps = { created_at: time('when it was created'), updated_at: time('when it last changed') };
export const msgField = str('what the platform has to say about the object: the reason for error, what a queued job waits for');
