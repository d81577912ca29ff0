import { Type } from '@sinclair/typebox';
import { DATASET_NAME } from '../../shared/records/datasets.js';
import { defineRoute } from '../../shared/routes/route.js';
import { S } from '../../shared/core/validation.js';

export default defineRoute({
  name: 'datasets-heartbeat',
  method: 'PUT',
  path: '/api/v1/users/{user}/datasets/{name}:heartbeat',
  auth: 'owner',
  uses: ['store'],
  params: { name: DATASET_NAME },
  body: S.object({
    state: Type.Union([Type.Literal('creating'), Type.Literal('ready'), Type.Literal('error')]),
    progress: Type.Integer({ minimum: 0, maximum: 100 }),
  }),
  description: 'Report upload progress while creating; ready (progress 100) or error ends it.',
});
