import { defineRoute } from '../../shared/route.js';

export default defineRoute({
  name: 'web-index',
  method: 'GET',
  path: '/',
  auth: 'none',
  description: 'The browser UI\'s entry page (a placeholder until the UI lands).',
});
