import { Type } from '@sinclair/typebox';
import { defineRoute } from '../../shared/routes/route.js';
import { S } from '../../shared/core/validation.js';

export default defineRoute({
  name: 'users-create',
  method: 'POST',
  path: '/api/v1/users',
  auth: 'none',
  uses: ['store'],
  // docs/api.md#users: any password of 8–128 characters (the default pattern would allow one letter).
  body: S.object({ username: S.name(), password: Type.String({ minLength: 8, maxLength: 128 }) }),
  status: 201,
  description: 'Register a user; the name stays taken for good (also after deactivation).',
});
