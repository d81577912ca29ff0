import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'models-delete',
  method: 'DELETE',
  path: '/api/v1/users/{user}/models/{model}',
  auth: 'owner',
  uses: ['store'],
  description: 'Delete a ready or error model no app uses: deleting now; files, rom and record follow.',
});
