import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'web-index',
  method: 'GET',
  path: '/',
  auth: 'none',
  description: "The browser UI (docs/api.md#browser-ui): register and log in, then the user's page at /index.",
});
