import type { RouteDef } from '../../shared/routes/route.js';
import { appEndpointRoute, renderAppMaps, renderAppServer } from './nginx-apps.js';
import { APP_CHECK_JS, renderAppCheckJs } from './nginx-app-check.js';
import { header } from './nginx-config.js';
import { authRoute, renderK8sUpstreams, renderRouteMaps } from './nginx-routes.js';
import { renderServer } from './nginx-server.js';

export { APP_ENDPOINT_FUNCTION } from './nginx-apps.js';
export { pathRegex } from './nginx-config.js';

/**
 * The Nginx gateway, rendered from the route registry (docs/architecture.md):
 * - nginx/mlp-routes.conf   http level: maps from "METHOD path" to the function and its access
 * - nginx/mlp-server.conf   server level: dispatch, auth_request, JSON answers for every error
 * - nginx/mlp-apps-server.conf  server level: the app gateway (docs/api.md#applications, port 30002)
 * - nginx/mlp-app-check.js  njs: the key under which the app gateway keeps a check's answer
 * - nginx/upstreams.k8s.conf  http level: function -> cluster address ($mlp_upstream,
 *   $mlp_auth_upstream, $mlp_app_check_upstream)
 * A deployment includes the routes file and one upstream file in `http {}`, the server file
 * inside the API gateway's `server {}` (30001) and the apps server file inside a second one
 * (30002). Both keep the contract themselves: 403 {msg} for client errors, 503 {msg} for
 * faults, never 500 and never an HTML page.
 */
export function renderNginx(routes: RouteDef[]): Record<string, string> {
  const auth = authRoute(routes);
  const endpoint = appEndpointRoute(routes);
  return {
    'nginx/mlp-routes.conf': header('http level; include with an upstream file (see upstreams.k8s.conf)') + renderRouteMaps(routes) + renderAppMaps(endpoint),
    'nginx/mlp-server.conf': header('server level; needs mlp-routes.conf and an upstream file at http level') + renderServer(auth),
    'nginx/mlp-apps-server.conf': header("server level, the app gateway's own server {} (port 30002); needs mlp-routes.conf and an upstream file at http level") + renderAppServer(endpoint),
    [`nginx/${APP_CHECK_JS}`]: renderAppCheckJs(),
    'nginx/upstreams.k8s.conf': header('http level; the functions as Knative Services in the cluster') + renderK8sUpstreams(routes, auth, endpoint),
  };
}
