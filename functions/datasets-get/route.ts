import { DATASET_NAME } from '../../shared/records/datasets.js';
import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'datasets-get',
  method: 'GET',
  path: '/api/v1/users/{user}/datasets/{name}',
  auth: 'owner',
  uses: ['store'],
  params: { name: DATASET_NAME },
  description: 'One dataset.',
});
