import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'api-openapi',
  method: 'GET',
  path: '/api/v1/openapi.json',
  auth: 'none',
  description: 'The OpenAPI 3.1 document of this API, generated from the route registry (openapi.json in the repository).',
});
