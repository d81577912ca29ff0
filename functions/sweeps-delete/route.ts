import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'sweeps-delete',
  method: 'DELETE',
  path: '/api/v1/users/{user}/sweeps/{sweep}',
  auth: 'owner',
  uses: ['store'],
  description: 'Delete a sweep with no trial waiting or running (stop it first): it becomes deleting, its trial jobs are deleted, then it goes.',
});
