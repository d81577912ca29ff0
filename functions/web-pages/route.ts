import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'web-pages',
  method: 'GET',
  path: '/{page}',
  auth: 'none',
  // docs/api.md#browser-ui's paths; the page itself shows the login or the user's page by its path and session.
  params: { page: '^(regist_login|regist_login\\.jsp|index|index\\.jsp)$' },
  description: 'The browser UI at /regist_login(.jsp) and /index(.jsp) (docs/api.md#browser-ui): the same page as /.',
});
