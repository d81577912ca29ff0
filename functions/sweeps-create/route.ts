import { Type } from '@sinclair/typebox';
import { ENTRY } from '../../shared/jobs/runtime.js';
import { defineRoute } from '../../shared/routes/route.js';
import { MAX_TRIALS, spaceSchema } from '../../shared/sweeps/space.js';
import { SWEEP_NAME } from '../../shared/sweeps/trials.js';
import { S } from '../../shared/core/validation.js';

// docs/api.md#experiments: trials' resources have the types, ranges and defaults of a job's.
export default defineRoute({
  name: 'sweeps-create',
  method: 'POST',
  path: '/api/v1/users/{user}/sweeps',
  auth: 'owner',
  uses: ['store', 'resources'],
  body: S.object({
    name: S.name({ pattern: SWEEP_NAME }),
    entry: Type.String({ pattern: ENTRY }),
    space: spaceSchema,
    metric: Type.Union([Type.Literal('accuracy'), Type.Literal('loss')]),
    goal: Type.Optional(Type.Union([Type.Literal('max'), Type.Literal('min')])),
    strategy: Type.Optional(Type.Union([Type.Literal('grid'), Type.Literal('random')])),
    trials: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TRIALS })),
    parallel: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    early_stop: Type.Optional(Type.Boolean()),
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
    runtime: Type.Optional(Type.String({ pattern: '^[a-z0-9]{1,32}$' })),
    tenant: Type.Optional(S.name()),
    gpu: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 })),
    cpu: Type.Optional(Type.Number({ minimum: 0.1, maximum: 10 })),
    ram: Type.Optional(Type.Integer({ minimum: 100, maximum: 10000 })),
  }),
  status: 201,
  description: 'Start a hyperparameter sweep: its trials are jobs named {sweep}a, {sweep}b, … (all reserved now), at most `parallel` waiting or running at once, each given its point as MLP_PARAMS.',
});
