import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Type, type TSchema, type Static, type TProperties, type ObjectOptions } from '@sinclair/typebox';
import { Invalid } from './errors.js';

/** The contract's default string pattern (docs/api.md#conventions). */
export const DEFAULT_PATTERN = '^[a-z]{1,50}$';

// One validator factory for the platform: strict, no coercion (docs/api.md#conventions "Types").
const ajv = new Ajv({ strict: true, allErrors: false, coerceTypes: false, useDefaults: true, verbose: true });

export const S = {
  /** A string of the contract's default pattern, or another one. */
  name: (opts: { pattern?: string; description?: string } = {}) => Type.String({ pattern: opts.pattern ?? DEFAULT_PATTERN, ...(opts.description ? { description: opts.description } : {}) }),
  /** A JSON object whose only allowed fields are the listed ones. */
  object: <P extends TProperties>(props: P, opts: ObjectOptions = {}) => Type.Object(props, { additionalProperties: false, ...opts }),
};

export type Validator<T> = (value: unknown, where: string) => T;

/** Compiles once (cold start matters); the returned function throws Invalid with a plain-words msg. */
export function compile<T extends TSchema>(schema: T): Validator<Static<T>> {
  const check: ValidateFunction = ajv.compile(schema);
  return (value, where) => {
    if (check(value)) return value as Static<T>;
    throw new Invalid(describe(check.errors?.[0], where));
  };
}

function describe(error: ErrorObject | undefined, where: string): string {
  if (!error) return `${where} is invalid`;
  // A body that is an array (a batch): name the element by its index, then its field.
  const element = /^\/(\d+)(?=\/|$)/.exec(error.instancePath);
  if (!element) return describeAt(error, error.instancePath, where);
  const rest = error.instancePath.slice(element[0].length);
  const whole = `element ${element[1]} of the ${where}`;
  return rest ? `${whole}: ${describeAt(error, rest, whole)}` : describeAt(error, rest, whole);
}

/** `at` is the error's path below `where` ('' for `where` itself). */
function describeAt(error: ErrorObject, at: string, where: string): string {
  const field = at ? `field "${at.slice(1).replace(/\//g, '.')}"` : where;
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return `${field} has an unknown field "${String(p.additionalProperty)}"`;
    case 'required':
      return `${field} is missing field "${String(p.missingProperty)}"`;
    case 'type':
      return `${field} must be ${article(String(p.type))}${error.data === null ? ', not null' : ''}`;
    case 'pattern':
      return `${field} must match ${String(p.pattern)}`;
    case 'minLength':
      return `${field} must be at least ${String(p.limit)} characters`;
    case 'maxLength':
      return `${field} must be at most ${String(p.limit)} characters`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `${field} must be ${String(p.comparison)} ${String(p.limit)}`;
    case 'enum':
      return `${field} must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'const':
      return `${field} must be ${JSON.stringify(p.allowedValue)}`;
    case 'minItems':
    case 'maxItems': {
      const limit = Number(p.limit);
      const held = Array.isArray(error.data) ? ` (it holds ${error.data.length})` : '';
      return `${field} must hold ${error.keyword === 'minItems' ? 'at least' : 'at most'} ${limit} element${limit === 1 ? '' : 's'}${held}`;
    }
    case 'minProperties':
    case 'maxProperties': {
      const limit = Number(p.limit);
      return `${field} must hold ${error.keyword === 'minProperties' ? 'at least' : 'at most'} ${limit} field${limit === 1 ? '' : 's'}`;
    }
    default:
      return `${field} ${error.message ?? 'is invalid'}`;
  }
}

function article(type: string): string {
  const words: Record<string, string> = { integer: 'an integer', object: 'a JSON object', array: 'an array', string: 'a string', number: 'a number', boolean: 'true or false' };
  return words[type] ?? type;
}
