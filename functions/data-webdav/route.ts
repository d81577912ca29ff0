import { defineRoute } from '../../shared/route.js';

export default defineRoute({
  name: 'data-webdav',
  method: 'ANY',
  path: '/data/{user}/{rest+}',
  auth: 'owner',
  stream: true,
  // The handler checks {rest} segment by segment (shared/webdav/target.ts).
  params: { rest: '^.+$' },
  description: 'WebDAV for datasets and the user\'s home: upload while creating, download when ready, listings.',
});
