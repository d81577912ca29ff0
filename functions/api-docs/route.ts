import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'api-docs',
  method: 'GET',
  path: '/api/docs',
  auth: 'none',
  description: "This API's reference, as a page: the OpenAPI document rendered by Swagger UI, every asset served by the platform itself (no CDN).",
});
