import { defineRoute } from '../../shared/route.js';

export default defineRoute({
  name: 'web-pages',
  method: 'GET',
  path: '/{page}',
  auth: 'none',
  // API.md §9's paths; the page itself shows the login or the user's page by its path and session.
  params: { page: '^(regist_login|regist_login\\.jsp|index|index\\.jsp)$' },
  description: 'The browser UI at /regist_login(.jsp) and /index(.jsp) (API.md §9): the same page as /.',
});
