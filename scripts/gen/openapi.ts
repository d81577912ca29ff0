import type { LoadedFunction } from '../../shared/http/adapter.js';
import { compilePath } from '../../shared/http/path-pattern.js';
import type { RouteDef } from '../../shared/route.js';
import { DEFAULT_PATTERN } from '../../shared/validation.js';

/**
 * The OpenAPI 3.1 document of the public API, rendered from the route registry:
 * paths, path patterns and request bodies come from functions/*\/route.ts (the very schemas ajv
 * compiles, TypeBox's symbols stripped); what a route answers, its examples and query parameters,
 * which the registry does not hold, come from the tables below, and a public route missing from
 * them stops generation. Internal routes (service token; the gateway never routes them) are left
 * out: no user can call them, and the document describes what the gateway serves.
 *
 * Written twice with the same bytes: openapi.json at the root (the artifact people read) and
 * beside the function that serves it, so a function image built from dist/ carries it.
 */
export const OPENAPI_FILES = ['openapi.json', 'functions/api-openapi/openapi.json'];

type Json = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const str = (description: string, extra: Json = {}) => ({ type: 'string', description, ...extra });
const int = (description: string, extra: Json = {}) => ({ type: 'integer', description, ...extra });
const num = (description: string, extra: Json = {}) => ({ type: 'number', description, ...extra });
const time = (what: string) => str(`${what} (ISO-8601)`, { format: 'date-time' });
const stamps = { created_at: time('when it was created'), updated_at: time('when it last changed') };
const msgField = str('what the platform has to say about the object: the reason for error, what a queued job waits for');

/** The objects the API answers with (docs/api.md, Users to Applications); each field as the handlers' *View types give it. */
const OBJECTS: Record<string, Json> = {
  Error: {
    type: 'object',
    required: ['msg'],
    additionalProperties: false,
    description: 'Every refusal and fault: 403 for a client error, 503 for a server fault (401 on /data without credentials).',
    properties: { msg: str('what went wrong, in plain words') },
    examples: [{ msg: 'dataset mnist not found' }],
  },
  User: {
    type: 'object',
    required: ['username', 'state', 'created_at', 'updated_at'],
    additionalProperties: false,
    properties: { username: str("the user's name", { pattern: DEFAULT_PATTERN }), state: { type: 'string', enum: ['NotActive', 'Actived'] }, ...stamps },
    examples: [{ username: 'alice', state: 'Actived', created_at: '2025-01-02T10:00:00.000Z', updated_at: '2025-01-02T10:00:00.000Z' }],
  },
  Tenant: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'cpu', 'gpu', 'ram', 'rom', 'cpu_inuse', 'gpu_inuse', 'ram_inuse', 'rom_inuse', 'created_at', 'updated_at'],
    properties: {
      name: str('the tenant (every user belongs to default)'),
      cpu: num('cores'),
      gpu: int('GPUs'),
      ram: int('Mi'),
      rom: int('bytes'),
      cpu_inuse: num('cores reserved or in use'),
      gpu_inuse: int('GPUs reserved or in use'),
      ram_inuse: int('Mi reserved or in use'),
      rom_inuse: int('bytes reserved or in use'),
      ...stamps,
    },
    examples: [
      {
        name: 'default',
        cpu: 10,
        gpu: 16,
        ram: 10000,
        rom: 107374182400,
        cpu_inuse: 1.5,
        gpu_inuse: 0,
        ram_inuse: 2000,
        rom_inuse: 1048576,
        created_at: '2025-01-02T10:00:00.000Z',
        updated_at: '2025-01-02T10:05:00.000Z',
      },
    ],
  },
  Dataset: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'user', 'tenant', 'size', 'state', 'progress', 'created_at', 'updated_at'],
    properties: {
      name: str("the dataset's name"),
      user: str('its owner'),
      tenant: str('whose rom it holds'),
      size: int('bytes reserved for it; uploads never pass it', { minimum: 0 }),
      state: { type: 'string', enum: ['creating', 'ready', 'error', 'deleting'] },
      progress: int('upload progress', { minimum: 0, maximum: 100 }),
      msg: msgField,
      ...stamps,
    },
    examples: [{ name: 'mnist', user: 'alice', tenant: 'default', size: 1048576, state: 'creating', progress: 0, created_at: '2025-01-02T10:00:00.000Z', updated_at: '2025-01-02T10:00:00.000Z' }],
  },
  Job: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'user', 'tenant', 'runtime', 'entry', 'gpu', 'cpu', 'ram', 'state', 'progress', 'created_at', 'updated_at'],
    properties: {
      name: str("the job's name"),
      user: str('its owner'),
      tenant: str('whose resources it holds'),
      runtime: { type: 'string', enum: ['tf', 'torch'], description: 'tf: TensorFlow/Keras, scikit-learn (Python) or TensorFlow.js; torch: PyTorch (Python)' },
      entry: str("the script, a path inside the user's home"),
      gpu: int('GPUs'),
      cpu: num('cores'),
      ram: int('Mi'),
      state: { type: 'string', enum: ['creating', 'running', 'finished', 'error', 'deleting'] },
      progress: int('reported by the script', { minimum: 0, maximum: 100 }),
      msg: msgField,
      queue: {
        type: 'object',
        additionalProperties: false,
        required: ['position', 'eta_s'],
        description: "only while it waits for resources: its place among the tenant's waiting jobs (1 is next) and the estimated wait",
        properties: { position: int('1 is next', { minimum: 1 }), eta_s: { type: ['integer', 'null'], minimum: 0, description: 'seconds; null when no estimate can be made' } },
      },
      ...stamps,
    },
    examples: [
      {
        name: 'train',
        user: 'alice',
        tenant: 'default',
        runtime: 'tf',
        entry: 'train.mjs',
        gpu: 0,
        cpu: 2,
        ram: 2000,
        state: 'running',
        progress: 30,
        created_at: '2025-01-02T10:00:00.000Z',
        updated_at: '2025-01-02T10:03:00.000Z',
      },
    ],
  },
  JobMetrics: {
    type: 'object',
    additionalProperties: false,
    required: ['user', 'name', 'epoch', 'accuracy', 'loss', 'progress'],
    properties: {
      user: str("the job's owner"),
      name: str('the job'),
      epoch: int('the epoch', { minimum: 0 }),
      accuracy: num('accuracy after the epoch'),
      loss: num('loss after the epoch'),
      progress: int('100 finished, -1 failed', { minimum: -1, maximum: 100 }),
    },
    examples: [{ user: 'alice', name: 'train', epoch: 3, accuracy: 0.91, loss: 0.27, progress: 30 }],
  },
  Model: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'user', 'tenant', 'size', 'src', 'state', 'created_at', 'updated_at'],
    properties: {
      name: str("the model's name"),
      user: str('its owner'),
      tenant: str('whose rom it holds'),
      size: int("bytes copied from the job's ckpt/", { minimum: 0 }),
      src: str('the finished job it was made of'),
      state: { type: 'string', enum: ['creating', 'ready', 'error', 'deleting'] },
      msg: msgField,
      ...stamps,
    },
    examples: [{ name: 'mnist', user: 'alice', tenant: 'default', size: 204800, src: 'train', state: 'ready', created_at: '2025-01-02T11:00:00.000Z', updated_at: '2025-01-02T11:00:02.000Z' }],
  },
  App: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'user', 'tenant', 'gpu', 'cpu', 'ram', 'model_name', 'port', 'endpoint', 'state', 'created_at', 'updated_at'],
    properties: {
      name: str("the application's name"),
      user: str('its owner'),
      tenant: str('whose resources it holds'),
      gpu: int('GPUs'),
      cpu: num('cores'),
      ram: int('Mi'),
      model_name: str('the model it serves'),
      port: int('where it serves (unique among live apps)', { minimum: 31000, maximum: 50000 }),
      endpoint: str("the app's base URL on the app gateway, as clients call it: {MLP_APP_URL}/{user}/{app} (predict: POST {endpoint}/v1/models/{model_name}:predict)", { format: 'uri' }),
      state: { type: 'string', enum: ['creating', 'ready', 'error', 'deleting'] },
      msg: msgField,
      ...stamps,
    },
    examples: [
      {
        name: 'digits',
        user: 'alice',
        tenant: 'default',
        gpu: 0,
        cpu: 1,
        ram: 1000,
        model_name: 'mnist',
        port: 31000,
        endpoint: 'http://127.0.0.1:30002/alice/digits',
        state: 'ready',
        created_at: '2025-01-02T12:00:00.000Z',
        updated_at: '2025-01-02T12:00:05.000Z',
      },
    ],
  },
  Sweep: {
    type: 'object',
    additionalProperties: false,
    required: [
      'name',
      'user',
      'tenant',
      'entry',
      'runtime',
      'cpu',
      'gpu',
      'ram',
      'space',
      'strategy',
      'trials',
      'parallel',
      'metric',
      'goal',
      'early_stop',
      'retries',
      'state',
      'progress',
      'best',
      'created_at',
      'updated_at',
    ],
    description: 'A hyperparameter sweep (docs/api.md#experiments); its trials are jobs named {sweep}a, {sweep}b, …',
    properties: {
      name: str("the sweep's name", { pattern: '^[a-z]{1,40}$' }),
      user: str('its owner'),
      tenant: str('whose resources its trials hold'),
      entry: str("each trial's script, a path inside the user's home"),
      runtime: { type: 'string', enum: ['tf', 'torch'] },
      cpu: num("each trial's cores"),
      gpu: int("each trial's GPUs"),
      ram: int("each trial's Mi"),
      space: { type: 'object', description: 'parameter → a list of values, or a range {min, max, log?, int?}' },
      strategy: { type: 'string', enum: ['grid', 'random'] },
      trials: int('how many trials', { minimum: 1, maximum: 1000 }),
      parallel: int('at most this many trials wait or run at once', { minimum: 1, maximum: 100 }),
      metric: { type: 'string', enum: ['accuracy', 'loss'] },
      goal: { type: 'string', enum: ['max', 'min'] },
      early_stop: { type: 'boolean', description: 'the median stopping rule' },
      retries: int("each trial's retries", { minimum: 0, maximum: 10 }),
      state: { type: 'string', enum: ['running', 'finished', 'error', 'deleting'] },
      progress: int('the share of trials that ended', { minimum: 0, maximum: 100 }),
      best: {
        oneOf: [
          { type: 'null' },
          {
            type: 'object',
            additionalProperties: false,
            required: ['job', 'params', 'value', 'epoch'],
            properties: { job: str('the trial'), params: { type: 'object' }, value: num('its best value of the metric'), epoch: int('the epoch of it') },
          },
        ],
      },
      msg: msgField,
      ...stamps,
    },
    examples: [
      {
        name: 'lr',
        user: 'alice',
        tenant: 'default',
        entry: 'train.py',
        runtime: 'tf',
        cpu: 1,
        gpu: 0,
        ram: 1000,
        space: { lr: [0.1, 0.01], units: [8, 16] },
        strategy: 'grid',
        trials: 4,
        parallel: 2,
        metric: 'accuracy',
        goal: 'max',
        early_stop: false,
        retries: 0,
        state: 'running',
        progress: 50,
        best: { job: 'lrb', params: { lr: 0.1, units: 16 }, value: 0.96, epoch: 9 },
        created_at: '2025-01-02T10:00:00.000Z',
        updated_at: '2025-01-02T10:05:00.000Z',
      },
    ],
  },
  Trial: {
    type: 'object',
    additionalProperties: false,
    required: ['job', 'params', 'state', 'value', 'epoch'],
    properties: {
      job: str("the trial's job"),
      params: { type: 'object', description: 'its point, given to the script as MLP_PARAMS' },
      state: str("its job's state, pending before the job exists, deleted if the job was deleted"),
      value: { type: ['number', 'null'], description: 'its best value of the metric so far' },
      epoch: { type: ['integer', 'null'], description: 'the epoch of that value' },
    },
    examples: [{ job: 'lra', params: { lr: 0.1, units: 8 }, state: 'finished', value: 0.93, epoch: 9 }],
  },
  DataListing: {
    type: 'array',
    description: 'The files of a dataset or home folder, with their sizes.',
    items: { type: 'object', additionalProperties: false, required: ['path', 'size'], properties: { path: str('relative to the folder listed'), size: int('bytes', { minimum: 0 }) } },
    examples: [
      [
        { path: 'train.csv', size: 1000000 },
        { path: 'labels/train.csv', size: 48576 },
      ],
    ],
  },
};

/** A JSON answer. */
const json = (schema: Json, description: string, example?: unknown) => ({
  description,
  content: { 'application/json': { schema, ...(example === undefined ? {} : { example }) } },
});
const text = (type: string, description: string) => ({ description, content: { [type]: { schema: { type: 'string' } } } });
const empty = (description: string) => json({ type: 'string', const: '' }, `${description} (the JSON string "")`, '');
const one = (kind: string, description: string) => json(ref(kind), description);
const list = (kind: string) => ({
  ...json({ type: 'array', items: ref(kind) }, `the user's ${kind.toLowerCase()}s, oldest first: all of them, or one page with ?limit=`),
  headers: { Link: { description: 'while more remain after this page: `<{the same path}?limit={limit}&after={cursor}>; rel="next"`', schema: { type: 'string' } } },
});

/** What each public route answers when it succeeds, by function name (the status is the route's). */
const SUCCESS: Record<string, Json> = {
  'users-create': one('User', 'the user, Actived'),
  'users-token': json(str('a signed, expiring token (JWT)'), 'the token, as a JSON string', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl'),
  'users-auth': json(str("the token's user"), 'the username, as a JSON string', 'alice'),
  'users-get': one('User', 'the user'),
  'users-deactivate': one('User', 'the user, NotActive'),
  'users-logout': empty('the token presented is revoked'),
  'tenants-get': one('Tenant', 'the tenant'),
  'datasets-create': one('Dataset', 'the dataset, creating, progress 0'),
  'datasets-list': list('Dataset'),
  'datasets-get': one('Dataset', 'the dataset'),
  'datasets-heartbeat': empty('progress recorded'),
  'datasets-delete': one('Dataset', 'the dataset, deleting'),
  'jobs-create': one('Job', 'the job, creating (running once admitted)'),
  'jobs-list': list('Job'),
  'jobs-get': one('Job', 'the job'),
  'jobs-heartbeat': empty('state and progress recorded'),
  'jobs-stop': one('Job', 'the job; it ends in error with msg "stopped by user"'),
  'jobs-delete': one('Job', 'the job, deleting'),
  'jobs-log': text('text/plain', 'the log so far; with ?follow=1 the answer grows until the job ends'),
  'metrics-publish': empty('published'),
  'metrics-socket': json({ type: 'array', items: ref('JobMetrics') }, 'without an upgrade: the stored metrics, one per epoch, in epoch order'),
  'metrics-compare': json({ type: 'object', additionalProperties: { type: 'array', items: ref('JobMetrics') } }, "each asked job's metrics in epoch order, keyed by job name", {
    a: [{ user: 'alice', name: 'a', epoch: 0, accuracy: 0.6, loss: 0.9, progress: 50 }],
    b: [],
  }),
  'sweeps-create': one('Sweep', 'the sweep, running'),
  'sweeps-list': list('Sweep'),
  'sweeps-get': one('Sweep', 'the sweep'),
  'sweeps-trials': json({ type: 'array', items: ref('Trial') }, 'its trials in trial order'),
  'sweeps-stop': one('Sweep', 'the sweep; its waiting and running trials are stopped'),
  'sweeps-delete': one('Sweep', 'the sweep, deleting'),
  'models-create': one('Model', 'the model, creating'),
  'models-list': list('Model'),
  'models-get': one('Model', 'the model'),
  'models-delete': one('Model', 'the model, deleting'),
  'apps-create': one('App', 'the application, creating, its port assigned'),
  'apps-list': list('App'),
  'apps-get': one('App', 'the application'),
  'apps-delete': one('App', 'the application, deleting'),
  'web-index': text('text/html', "the browser UI's entry page"),
  'web-pages': text('text/html', "the browser UI's page"),
  'web-app-predict': json({ type: 'object', description: "TensorFlow Serving's answer: {predictions} (or {outputs} for the columnar form)" }, "what the app's model server answered", {
    predictions: [[0.98, 0.01, 0.01]],
  }),
  'web-data-client': text('application/javascript', 'the data client as one file'),
  'api-openapi': json({ type: 'object', description: 'an OpenAPI 3.1 document' }, 'this document'),
  'api-docs': text('text/html', 'a page rendering this document'),
  'api-docs-assets': { description: "the renderer's script or style sheet", content: { 'application/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } } } },
};

/** Routes whose contract is a refusal (docs/api.md#browser-ui: the design's Java client is a Node one now). */
const ALWAYS_REFUSED = new Set(['web-data-client-jar']);

/** Request body examples: each must validate against its route's schema (test/generated/openapi.test.ts). */
const EXAMPLES: Record<string, Record<string, { summary: string; value: unknown }>> = {
  'users-create': { register: { summary: 'register alice', value: { username: 'alice', password: 'correct-horse' } } },
  'datasets-create': { mnist: { summary: 'a 1 MiB dataset', value: { name: 'mnist', size: 1048576 } } },
  'datasets-heartbeat': {
    progress: { summary: 'halfway through the upload', value: { state: 'creating', progress: 50 } },
    ready: { summary: 'every file is uploaded', value: { state: 'ready', progress: 100 } },
  },
  'jobs-create': {
    defaults: { summary: 'run train.mjs from the home with 1 core and 1000 Mi', value: { name: 'train', entry: 'train.mjs' } },
    sized: { summary: 'two cores, 2000 Mi', value: { name: 'train', entry: 'scripts/train.py', cpu: 2, ram: 2000 } },
  },
  'jobs-heartbeat': { running: { summary: 'epoch 3 of 10', value: { state: 'running', progress: 30 } }, finished: { summary: 'done', value: { state: 'finished', progress: 100 } } },
  'jobs-stop': { stop: { summary: 'the body is an empty object', value: {} } },
  'sweeps-create': {
    grid: {
      summary: 'a grid over learning rate and units, two trials at a time',
      value: { name: 'lr', entry: 'train.py', space: { lr: [0.1, 0.01], units: [8, 16] }, metric: 'accuracy', parallel: 2 },
    },
    random: {
      summary: '20 random draws, a log-scaled learning rate',
      value: {
        name: 'rnd',
        entry: 'train.py',
        space: { lr: { min: 0.0001, max: 0.1, log: true }, units: { min: 8, max: 64, int: true } },
        strategy: 'random',
        trials: 20,
        metric: 'loss',
        early_stop: true,
      },
    },
  },
  'sweeps-stop': { stop: { summary: 'the body is an empty object', value: {} } },
  'metrics-publish': {
    epoch: { summary: 'the metrics of epoch 3', value: { epoch: 3, accuracy: 0.91, loss: 0.27, progress: 30 } },
    batch: {
      summary: 'a batch (1 to 1000), published in order; one invalid element refuses it all',
      value: [
        { epoch: 3, accuracy: 0.91, loss: 0.27, progress: 30 },
        { epoch: 4, accuracy: 0.93, loss: 0.22, progress: 40 },
      ],
    },
  },
  'models-create': { mnist: { summary: 'the ckpt/ of the finished job train', value: { name: 'mnist', src: 'train' } } },
  'web-app-predict': {
    rows: {
      summary: 'two rows of four features',
      value: {
        instances: [
          [5.1, 3.5, 1.4, 0.2],
          [6.7, 3.0, 5.2, 2.3],
        ],
      },
    },
  },
  'apps-create': { digits: { summary: 'serve the model mnist with one core', value: { name: 'digits', model_name: 'mnist', cpu: 1, ram: 1000 } } },
};

/** Pages of lists (shared/paging.ts): without these the whole list, as before. */
const PAGING: Json[] = [
  {
    name: 'limit',
    in: 'query',
    required: false,
    description: 'answer one page of at most this many, in creation order; a Link header names the next page while more remain',
    schema: { type: 'integer', minimum: 1, maximum: 1000 },
    example: 100,
  },
  { name: 'after', in: 'query', required: false, description: 'the cursor from the Link header of the page before (opaque)', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,600}$' } },
];

/** Query parameters (the registry holds path parameters only). */
const QUERY: Record<string, Json[]> = {
  'datasets-list': PAGING,
  'jobs-list': PAGING,
  'models-list': PAGING,
  'apps-list': PAGING,
  'jobs-log': [
    {
      name: 'follow',
      in: 'query',
      required: false,
      description: '1 (or true): keep the answer open and stream the log as it grows, until the job ends',
      schema: { type: 'string', enum: ['1', 'true'] },
    },
  ],
};

const PARAMS: Record<string, string> = {
  user: "the user's name",
  name: "the dataset's name",
  job: "the job's name",
  model: "the model's name",
  app: "the application's name",
  tenant: "the tenant's name",
  rest: 'what follows the user: `{dataset}/`, `{dataset}/{path}`, `.home/` or `.home/{path}`; a path is segments of 1–255 bytes of UTF-8 without /, NUL or control characters, none of them . or .., each percent-encoded once',
  file: 'a file of the renderer',
};

const TAGS: Record<string, string> = {
  users: 'Register, log in and out, deactivate (docs/api.md#users).',
  tenants: "The tenant's capacity and usage (docs/api.md#resources).",
  datasets: 'Datasets: create, report upload progress, list, delete (docs/api.md#datasets).',
  data: "WebDAV under /data: upload into a creating dataset, download a ready one, the user's home (docs/api.md#datasets).",
  jobs: 'Training jobs: submit, heartbeat, log, stop, delete (docs/api.md#jobs).',
  metrics: 'Job metrics: publish, and follow them live over a WebSocket (docs/api.md#job-metrics).',
  models: "Models made of a finished job's ckpt/ (docs/api.md#models).",
  apps: 'Applications serving a model (docs/api.md#applications).',
  sweeps: 'Hyperparameter sweeps: trials as jobs under the same quotas, best and progress, stop, delete (docs/api.md#experiments).',
  web: 'The browser UI and the data client (docs/api.md#browser-ui).',
  api: 'This document and its rendering.',
};

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
  if (!TAGS[tag]) throw new Error(`openapi: no tag description for ${tag} (function ${route.name}); add it to TAGS in scripts/gen/openapi.ts`);
  return { tags: [tag], summary: SUMMARIES[route.name] ?? summaryOf(route.description), description: route.description };
}

function operation(fn: LoadedFunction): Json {
  const { route } = fn;
  const success = SUCCESS[route.name];
  if (!success && !ALWAYS_REFUSED.has(route.name)) throw new Error(`openapi: what does ${route.name} answer? Add it to SUCCESS in scripts/gen/openapi.ts`);
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
  if (!examples) throw new Error(`openapi: ${route.name} takes a body: add an example to EXAMPLES in scripts/gen/openapi.ts`);
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

/** Where the first clause of a route's description does not make a summary. */
const SUMMARIES: Record<string, string> = {
  'metrics-socket': "A job's metrics: a WebSocket (history, then live), or the stored list",
  'web-data-client-jar': "The design's Java client: refused, naming /data_client.js",
};

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
