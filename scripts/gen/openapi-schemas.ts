import { DEFAULT_PATTERN } from '../../shared/validation.js';

// The objects of the OpenAPI document (scripts/gen/openapi.ts), under components/schemas, and the helpers that write a schema.

export type Json = Record<string, unknown>;

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const str = (description: string, extra: Json = {}) => ({ type: 'string', description, ...extra });
const int = (description: string, extra: Json = {}) => ({ type: 'integer', description, ...extra });
const num = (description: string, extra: Json = {}) => ({ type: 'number', description, ...extra });
const time = (what: string) => str(`${what} (ISO-8601)`, { format: 'date-time' });
const stamps = { created_at: time('when it was created'), updated_at: time('when it last changed') };
const msgField = str('what the platform has to say about the object: the reason for error, what a queued job waits for');

/** The objects the API answers with (docs/api.md, Users to Applications); each field as the handlers' *View types give it. */
export const OBJECTS: Record<string, Json> = {
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
