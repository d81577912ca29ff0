import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'data-webdav',
  method: 'ANY',
  path: '/data/{user}/{rest+}',
  auth: 'owner',
  uses: ['store'],
  stream: true,
  // Commits to a dataset are serialized in the process that receives them (the size check);
  // one instance keeps that exact. Node streams many uploads at once in it.
  maxScale: 1,
  // The handler checks {rest} segment by segment (shared/webdav/target.ts).
  params: { rest: '^.+$' },
  description: "WebDAV for datasets and the user's home: upload while creating, download when ready, listings.",
});
