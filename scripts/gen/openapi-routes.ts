import { type Json, ref, str } from './openapi-schemas.js';

// What the route registry does not hold and the OpenAPI document (scripts/gen/openapi.ts) needs of every public route: its answers, body examples, query parameters, tags and summaries.

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
export const SUCCESS: Record<string, Json> = {
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
export const ALWAYS_REFUSED = new Set(['web-data-client-jar']);

/** Request body examples: each must validate against its route's schema (test/generated/openapi.test.ts). */
export const EXAMPLES: Record<string, Record<string, { summary: string; value: unknown }>> = {
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

/** Pages of lists (shared/http/paging.ts): without these the whole list, as before. */
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
export const QUERY: Record<string, Json[]> = {
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

export const PARAMS: Record<string, string> = {
  user: "the user's name",
  name: "the dataset's name",
  job: "the job's name",
  model: "the model's name",
  app: "the application's name",
  tenant: "the tenant's name",
  rest: 'what follows the user: `{dataset}/`, `{dataset}/{path}`, `.home/` or `.home/{path}`; a path is segments of 1–255 bytes of UTF-8 without /, NUL or control characters, none of them . or .., each percent-encoded once',
  file: 'a file of the renderer',
};

export const TAGS: Record<string, string> = {
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

/** Where the first clause of a route's description does not make a summary. */
export const SUMMARIES: Record<string, string> = {
  'metrics-socket': "A job's metrics: a WebSocket (history, then live), or the stored list",
  'web-data-client-jar': "The design's Java client: refused, naming /data_client.js",
};
