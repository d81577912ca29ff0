import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'web-data-client-jar',
  method: 'GET',
  path: '/data_client.jar',
  auth: 'none',
  description: "The design's Java client became a Node one: this answers 403 naming /data_client.js (docs/api.md#browser-ui).",
});
