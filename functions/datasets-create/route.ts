import { Type } from '@sinclair/typebox';
import { DATASET_NAME } from '../../shared/records/datasets.js';
import { defineRoute } from '../../shared/routes/route.js';
import { S } from '../../shared/core/validation.js';

export default defineRoute({
  name: 'datasets-create',
  method: 'POST',
  path: '/api/v1/users/{user}/datasets',
  auth: 'owner',
  uses: ['store', 'resources'],
  body: S.object({
    name: S.name({ pattern: DATASET_NAME }),
    size: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    user: Type.Optional(S.name()),
    tenant: Type.Optional(S.name()),
  }),
  status: 201,
  description: 'Create a dataset in state creating, reserving rom = size from the tenant.',
});
