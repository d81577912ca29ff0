import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'users-auth',
  method: 'GET',
  path: '/api/v1/auth',
  // The handler reads the token itself: from the header, or ?token= for browser WebSockets.
  auth: 'none',
  // It verifies the token itself, so it needs the signing key its auth mode does not imply.
  secrets: ['signing-key'],
  uses: ['store'],
  description: "Check a user or job token and answer its username (the gateway's auth_request).",
});
