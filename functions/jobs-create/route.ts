import { Type } from '@sinclair/typebox';
import { ENTRY } from '../../shared/jobs/runtime.js';
import { defineRoute } from '../../shared/routes/route.js';
import { S } from '../../shared/core/validation.js';

// docs/api.md#jobs: gpu int 0–16 (default 0), cpu 0.1–10 (default 1), ram int 100–10000 Mi (default 1000).
export default defineRoute({
  name: 'jobs-create',
  method: 'POST',
  path: '/api/v1/users/{user}/jobs',
  auth: 'owner',
  orchestrator: true, // starts an admitted job
  // A job admitted at once is started with a job token it signs (shared/jobs/lifecycle.ts launch).
  secrets: ['signing-key'],
  uses: ['store', 'bus', 'orchestrator', 'resources'],
  body: S.object({
    name: S.name(),
    entry: Type.String({ pattern: ENTRY }),
    tenant: Type.Optional(S.name()),
    // Checked by the handler against what this installation offers (MLP_RUNTIMES), naming those.
    runtime: Type.Optional(Type.String({ pattern: '^[a-z0-9]{1,32}$' })),
    gpu: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 })),
    cpu: Type.Optional(Type.Number({ minimum: 0.1, maximum: 10 })),
    ram: Type.Optional(Type.Integer({ minimum: 100, maximum: 10000 })),
    // docs/api.md#experiments: a failed attempt is launched again this many times, after a backoff.
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
  }),
  status: 201,
  description: 'Submit a training job: it runs at once if resources are free, else waits in a FIFO queue.',
});
