import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'api-docs-assets',
  method: 'GET',
  path: '/api/docs/{file}',
  auth: 'none',
  params: { file: '^(swagger-ui-bundle\\.js|swagger-ui\\.css|init\\.js)$' },
  description: "The script and style sheet of the /api/docs page: Swagger UI from the platform's own node_modules (swagger-ui-dist), and the few lines that start it.",
});
