import { Type } from '@sinclair/typebox';
import { defineRoute } from '../../shared/routes/route.js';
import { S } from '../../shared/core/validation.js';

export default defineRoute({
  name: 'models-create',
  method: 'POST',
  path: '/api/v1/users/{user}/models',
  auth: 'owner',
  uses: ['store', 'resources'],
  body: S.object({
    name: S.name(),
    src: S.name({ description: 'a finished job of the same user; its ckpt/ becomes the model' }),
    tenant: Type.Optional(S.name()),
  }),
  status: 201,
  description: "Make a model of a finished job's ckpt/: rom reserved for its size now (403 when not free), files copied, then ready.",
});
