import type { LoadedFunction } from '../../shared/http/adapter.js';
import { compilePath } from '../../shared/http/path-pattern.js';
import type { RouteDef } from '../../shared/routes/route.js';
import { DEFAULT_PATTERN } from '../../shared/core/validation.js';
import { ALWAYS_REFUSED, EXAMPLES, PARAMS, QUERY, SUCCESS, SUMMARIES, TAGS } from './openapi-routes.js';
import { type Json, OBJECTS, ref } from './openapi-schemas.js';

/**
 * The OpenAPI 3.1 document of the public API, rendered from the route registry:
 * paths, path patterns and request bodies come from functions/*\/route.ts (the very schemas ajv
 * compiles, TypeBox's symbols stripped); what a route answers, its examples and query parameters,
 * which the registry does not hold, come from the tables of scripts/gen/openapi-routes.ts, and a public route missing from
 * them stops generation. Internal routes (service token; the gateway never routes them) are left
 * out: no user can call them, and the document describes what the gateway serves.
 *
 * Written twice with the same bytes: openapi.json at the root (the artifact people read) and
 * beside the function that serves it, so a function image built from dist/ carries it.
 */
export const OPENAPI_FILES = ['openapi.json', 'functions/api-openapi/openapi.json'];

const SCHEMES = {
  bearer: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'A user token from GET /api/v1/users/{user}/token (Authorization: Bearer …); a token of another user is refused with 403. Where a job reports (heartbeat, metrics), its job token MLP_TOKEN works too.',
  },
  password: { type: 'http', scheme: 'basic', description: 'The username and password (Authorization: Basic …), only to get a token.' },
  davBasic: { type: 'http', scheme: 'basic', description: 'On /data only: the username, and an API token as the password, for WebDAV clients that send credentials after a 401 challenge.' },
  queryToken: { type: 'apiKey', in: 'query', name: 'token', description: 'The token as ?token=, for browsers opening a WebSocket (they cannot set headers).' },
};

const DAV_CHALLENGE = 'Basic realm="MLP"';

/** Every error answer's headers (docs/api.md#conventions). */
const ERROR_HEADERS = {
  'x-mlp-error': { description: 'the same body, for gateways that answer from headers', schema: { type: 'string' } },
  'x-mlp-code': { description: 'the stable code of the outcome (NOT_FOUND, TOKEN_INVALID, TCC_CONFIRMED, …): programs branch on it, never on msg', schema: { type: 'string' } },
};

const COMPONENT_RESPONSES = {
  Forbidden: {
    description:
      'A client error: bad or unknown field, pattern mismatch, missing, invalid or foreign token, not found, name taken, illegal state transition, quota that can never fit. Nothing was changed.',
    headers: ERROR_HEADERS,
    content: { 'application/json': { schema: ref('Error'), example: { msg: 'dataset mnist not found' } } },
  },
  Unavailable: {
    description: 'A server fault: a function or the database is unavailable. Nothing was changed; try again later.',
    headers: ERROR_HEADERS,
    content: { 'application/json': { schema: ref('Error'), example: { msg: 'the store is unavailable; try again later' } } },
  },
  Challenge: {
    description: 'No credentials on /data: the challenge standard WebDAV clients wait for before they send Basic credentials (wrong or foreign credentials still answer 403).',
    headers: { 'WWW-Authenticate': { description: DAV_CHALLENGE, schema: { type: 'string', const: DAV_CHALLENGE } } },
    content: { 'application/json': { schema: ref('Error'), example: { msg: 'credentials are required on /data' } } },
  },
};

const ERRORS = { '403': { $ref: '#/components/responses/Forbidden' }, '503': { $ref: '#/components/responses/Unavailable' } };

/** OpenAPI writes a path parameter as {name}; the registry's final {rest+} (slashes included) too. */
export function openApiPath(path: string): string {
  return path.replace(/\{([a-z_]+)\+\}$/, '{$1}');
}

/** The public routes: the rest carry the service token or are the app gateway's own check. */
export const isPublic = (route: RouteDef): boolean => !route.internal && route.auth !== 'service';

/** A route's body schema as ajv compiles it, without TypeBox's symbol keys (JSON drops them). */
export function plainSchema(schema: unknown): Json {
  return JSON.parse(JSON.stringify(schema)) as Json;
}

export function renderOpenApi(fns: LoadedFunction[], version: string): Record<string, string> {
  const content = `${JSON.stringify(openApiDocument(fns, version), null, 2)}\n`;
  return Object.fromEntries(OPENAPI_FILES.map((file) => [file, content]));
}

export function openApiDocument(fns: LoadedFunction[], version: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const fn of fns.filter((f) => isPublic(f.route))) {
    const path = openApiPath(fn.route.path);
    const item = (paths[path] ??= {});
    for (const [method, operation] of Object.entries(operationsOf(fn))) {
      if (item[method]) throw new Error(`openapi: ${method.toUpperCase()} ${path} is served twice`);
      item[method] = operation;
    }
  }
  const sorted = Object.fromEntries(
    Object.keys(paths)
      .sort()
      .map((p) => [p, paths[p]]),
  );
  const tags = [...new Set(Object.values(paths).flatMap((item) => Object.values(item).map((op) => (op.tags as string[])[0] ?? '')))];
  return {
    openapi: '3.1.0',
    info: {
      title: 'MLP API',
      version,
      summary: 'A multi-tenant machine-learning platform: datasets, training jobs, live metrics, models and serving applications.',
      description: [
        'The REST API of MLP (docs/api.md, contract v1), generated from the route registry (functions/*/route.ts): the request schemas here are the ones the platform validates with.',
        '',
        '- Requests and answers are JSON unless an operation says otherwise. A request body may hold only the fields listed for it; strings follow `^[a-z]{1,50}$` unless the field says otherwise; nothing is coerced (`"1"` for a number, or `null`, is refused).',
        '- Every client error answers **403** `{"msg": …}` and every server fault **503** `{"msg": …}`; a refused request changes nothing. The one exception is /data, where a request without credentials answers 401 with a Basic challenge.',
        '- Routes under /api/v1/users/{user}/ need the Bearer token of {user} (get one with Basic credentials from GET /api/v1/users/{user}/token).',
        '- Lists are in creation order, oldest first. Deletion is asynchronous: DELETE answers the object in state deleting.',
        "- Left out: the routes the platform's own functions call with the service token (resource requests, metrics begin/finish/delete, reconcilers, the app gateway's endpoint check). The gateway does not route them from outside.",
      ].join('\n'),
      license: { name: 'Proprietary' },
    },
    servers: [{ url: '/', description: 'the gateway that served this document (port 30001)' }],
    tags: tags.map((name) => ({ name, description: TAGS[name] })),
    paths: sorted,
    components: { schemas: OBJECTS, responses: COMPONENT_RESPONSES, securitySchemes: SCHEMES },
  };
}

function operationsOf(fn: LoadedFunction): Record<string, Json> {
  const { route } = fn;
  if (route.method === 'ANY') return davOperations(route);
  return { [route.method.toLowerCase()]: operation(fn) };
}

function base(route: RouteDef): Json {
  const tag = route.name.split('-')[0] ?? '';
  if (!TAGS[tag]) throw new Error(`openapi: no tag description for ${tag} (function ${route.name}); add it to TAGS in scripts/gen/openapi-routes.ts`);
  return { tags: [tag], summary: SUMMARIES[route.name] ?? summaryOf(route.description), description: route.description };
}

function operation(fn: LoadedFunction): Json {
  const { route } = fn;
  const success = SUCCESS[route.name];
  if (!success && !ALWAYS_REFUSED.has(route.name)) throw new Error(`openapi: what does ${route.name} answer? Add it to SUCCESS in scripts/gen/openapi-routes.ts`);
  const responses: Json = success ? { [String(route.status ?? 200)]: success } : {};
  if (fn.upgrade) responses['101'] = { description: 'the WebSocket: first the stored metrics, one JobMetrics message each in epoch order, then each new one as it arrives' };
  const parameters = [...pathParameters(route), ...(QUERY[route.name] ?? [])];
  return {
    operationId: route.name,
    ...base(route),
    ...(ALWAYS_REFUSED.has(route.name) ? { deprecated: true } : {}),
    ...(parameters.length ? { parameters } : {}),
    security: securityOf(route, Boolean(fn.upgrade)),
    ...requestBodyOf(route),
    responses: { ...responses, ...ERRORS },
  };
}

function requestBodyOf(route: RouteDef): Json {
  if (route.body === undefined) return {};
  if (route.body === 'ignored') {
    return { requestBody: { required: false, description: 'Any body or none: this route ignores it (docs/api.md#users).', content: { '*/*': {} } } };
  }
  const examples = EXAMPLES[route.name];
  if (!examples) throw new Error(`openapi: ${route.name} takes a body: add an example to EXAMPLES in scripts/gen/openapi-routes.ts`);
  return { requestBody: { required: true, content: { 'application/json': { schema: plainSchema(route.body), examples } } } };
}

function securityOf(route: RouteDef, websocket: boolean): Json[] {
  switch (route.auth) {
    case 'none':
      // The auth check reads the token itself, from the header or ?token= (docs/api.md#users).
      return route.path === '/api/v1/auth' ? [{ bearer: [] }, { queryToken: [] }] : [];
    case 'basic':
      return [{ password: [] }];
    case 'owner':
    case 'user':
    case 'owner-or-job':
      return websocket ? [{ bearer: [] }, { queryToken: [] }] : [{ bearer: [] }];
    case 'service':
      throw new Error(`openapi: ${route.name} takes the service token and is not public`);
  }
}

function pathParameters(route: RouteDef): Json[] {
  return compilePath(route.path).params.map((name) => ({
    name,
    in: 'path',
    required: true,
    description: PARAMS[name] ?? `the ${name}`,
    schema: { type: 'string', pattern: route.params?.[name] ?? DEFAULT_PATTERN },
  }));
}

/** The first clause of a description: a summary for the list of operations. */
function summaryOf(description: string): string {
  const clause =
    description
      .split(/[:;(]|\. /)[0]
      ?.replace(/\.$/, '')
      .trim() ?? description;
  return clause.length <= 80 ? clause : `${clause.slice(0, 77)}…`;
}

/** WebDAV serves many methods on one route; OpenAPI 3.1 describes those it has words for. */
function davOperations(route: RouteDef): Record<string, Json> {
  const parameters = pathParameters(route);
  const security = [{ bearer: [] }, { davBasic: [] }];
  const errors = { '401': { $ref: '#/components/responses/Challenge' }, ...ERRORS };
  const op = (method: string, summary: string, description: string, responses: Json, extra: Json = {}) => ({
    operationId: `${route.name}-${method}`,
    tags: ['data'],
    summary,
    description: `${description}\n\n${route.description} PROPFIND (Depth 0 and 1), PROPPATCH, MKCOL, COPY and MOVE (within one dataset or home) work under the same rules; OpenAPI 3.1 has no words for them.`,
    parameters,
    security,
    ...extra,
    responses: { ...responses, ...errors },
  });
  const bytes = { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } };
  return {
    get: op(
      'get',
      'Download a file, or list a folder',
      'A file of a ready dataset or of the home (Range requests answer 206); a path ending in / lists the folder as JSON, also while the dataset is creating.',
      {
        '200': { description: 'the file, or the listing of a folder', content: { ...bytes, 'application/json': { schema: ref('DataListing') } } },
        '206': { description: 'the requested range of the file', content: bytes },
      },
    ),
    put: op(
      'put',
      'Upload a file',
      'Into a creating dataset or the home; missing parent folders are created. The bytes of a dataset never pass its size, nor a home MLP_HOME_QUOTA (403).',
      {
        '201': { description: 'a new file' },
        '204': { description: 'a file replaced' },
      },
      { requestBody: { required: true, content: bytes } },
    ),
    delete: op('delete', 'Discard an upload or a home file', 'DELETE /data/{user}/{dataset} discards what was uploaded so far (restart an upload); in the home it removes a file.', {
      '204': { description: 'deleted' },
    }),
    head: op('head', "A file's size and type", 'As GET, without the body.', { '200': { description: 'the headers of the file' } }),
    options: op('options', 'The WebDAV methods served', 'Answers DAV and Allow headers, as WebDAV clients expect.', { '200': { description: 'DAV and Allow headers' } }),
  };
}
