import { Type } from '@sinclair/typebox';
import { defineRoute } from '../../shared/routes/route.js';
import { S } from '../../shared/core/validation.js';

export default defineRoute({
  name: 'web-app-predict',
  method: 'POST',
  path: '/api/v1/users/{user}/apps/{app}:predict',
  auth: 'owner',
  uses: ['store', 'orchestrator'],
  // TensorFlow Serving's request: row form {instances} or columnar {inputs} (the model server checks shapes).
  body: S.object({
    instances: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 10000 })),
    inputs: Type.Optional(Type.Unknown()),
  }),
  description:
    'Beyond: the browser UI\'s "try predict", same origin as the page: the owner\'s token checked, the app ready, the request passed to its model server without the token (docs/api.md#applications).',
});
