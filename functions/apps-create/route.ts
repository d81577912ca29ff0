import { Type } from '@sinclair/typebox';
import { defineRoute } from '../../shared/routes/route.js';
import { S } from '../../shared/core/validation.js';

// docs/api.md#applications: gpu, cpu, ram have the types, ranges and defaults of a job's (docs/api.md#jobs).
export default defineRoute({
  name: 'apps-create',
  method: 'POST',
  path: '/api/v1/users/{user}/apps',
  auth: 'owner',
  uses: ['store', 'orchestrator', 'resources'],
  orchestrator: true, // claimPort asks portAvailable
  body: S.object({
    name: S.name(),
    model_name: S.name({ description: 'a ready model of the same user' }),
    tenant: Type.Optional(S.name()),
    gpu: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 })),
    cpu: Type.Optional(Type.Number({ minimum: 0.1, maximum: 10 })),
    ram: Type.Optional(Type.Integer({ minimum: 100, maximum: 10000 })),
  }),
  status: 201,
  description: 'Deploy a ready model as an application: a unique port and cpu/gpu/ram reserved now (403 when not free); the app watcher starts it.',
});
