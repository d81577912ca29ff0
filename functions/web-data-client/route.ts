import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'web-data-client',
  method: 'GET',
  path: '/data_client.js',
  auth: 'none',
  description: 'The mlp data client as one file: `node data_client.js --help` (docs/api.md#browser-ui, #data-client).',
});
