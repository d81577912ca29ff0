import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'models-get',
  method: 'GET',
  path: '/api/v1/users/{user}/models/{model}',
  auth: 'owner',
  uses: ['store'],
  description: 'One model.',
});
