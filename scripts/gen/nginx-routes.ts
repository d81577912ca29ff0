import type { RouteDef } from '../../shared/routes/route.js';
import { NAMESPACE } from './deploy-facts.js';
import { map, msg, pathRegex } from './nginx-config.js';

// The API gateway at http level (nginx/mlp-routes.conf, nginx/upstreams.k8s.conf): which function serves a request, how it is let through, and the bodies of its refusals and faults.

const MAP_KEYWORDS = ['default', 'hostnames', 'include', 'volatile'];

/** How the gateway lets a route's requests through. */
type Access = 'open' | 'bearer' | 'stream' | 'dav' | 'internal';

/**
 * open: the function checks on its own (none, basic); bearer: auth_request first; stream: like
 * bearer, with bodies of any size passed through unbuffered; dav: a stream route under /data,
 * where a request without credentials gets the 401 Basic challenge (docs/api.md#datasets); internal: never routed.
 */
function accessOf(route: RouteDef): Access {
  // Function names are map keys; these words are map directives instead.
  if (MAP_KEYWORDS.includes(route.name)) throw new Error(`nginx: a function cannot be named ${route.name} (a keyword of nginx's map)`);
  if (route.internal || route.auth === 'service') return 'internal';
  const bearer = route.auth === 'owner' || route.auth === 'user' || route.auth === 'owner-or-job';
  if (route.stream) {
    if (!bearer) throw new Error(`nginx: stream route ${route.name} must use a Bearer auth mode (owner or user)`);
    return route.path.startsWith('/data/') ? 'dav' : 'stream';
  }
  return bearer ? 'bearer' : 'open';
}

export function authRoute(routes: RouteDef[]): RouteDef {
  const found = routes.find((r) => r.method === 'GET' && r.path === '/api/v1/auth');
  if (!found) throw new Error("nginx: no function serves GET /api/v1/auth, which the gateway's auth_request calls");
  return found;
}

/** The method part of a route's map key; 'ANY' (a WebDAV route) takes every method. */
const methodRegex = (r: RouteDef) => (r.method === 'ANY' ? '[A-Z]+' : r.method);

export function renderRouteMaps(routes: RouteDef[]): string {
  // Registry order, as the local router tries routes, so overlapping patterns resolve alike.
  const byRoute = routes.map((r): [string, string] => [`"~^${methodRegex(r)} ${pathRegex(r.path).slice(1)}"`, r.name]);
  const access = routes.map((r): [string, string] => [r.name, accessOf(r)]);
  return [
    map('$request_uri', '$mlp_path', [['"~^(?<mlp_raw_path>[^?]*)"', '$mlp_raw_path']], 'Routing uses the path exactly as the client sent it (the function sees the same $request_uri).'),
    map(
      '$request_uri',
      '$mlp_query',
      [
        ['default', '""'],
        ['"~^[^?]*(?<mlp_raw_query>\\?.*)$"', '$mlp_raw_query'],
      ],
      'The query, handed to the token check (browsers send WebSocket tokens as ?token=).',
    ),
    map(
      '$mlp_path',
      '$mlp_path_json',
      [
        ['default', '"(a path with characters that need percent-encoding)"'],
        ['"~^[\\x21\\x23-\\x5b\\x5d-\\x7e]*$"', '$mlp_path'],
      ],
      'The path as it may appear inside a JSON message and a header (printable ASCII without " and \\).',
    ),
    map('"$request_method $mlp_path"', '$mlp_function', [['default', '""'], ...byRoute], 'Which function serves "METHOD path"; a {param} matches up to the next / or : (shared/http/path-pattern.ts).'),
    map(
      '$mlp_function',
      '$mlp_access',
      [['default', 'unrouted'], ...access],
      'open: the function checks Basic or nothing itself; bearer: auth_request first; stream: bearer, bodies unbuffered; dav: stream with the 401 challenge (/data); internal: functions call it directly.',
    ),
    map('$mlp_path', '$mlp_allowed', [['default', '""'], ...allowedMethods(routes)], "The methods a path does serve, for the refusal of any other (the local router's wording)."),
    map(
      '$mlp_allowed',
      '$mlp_unrouted_body',
      [
        ['""', msg('no route $request_method $mlp_path_json')],
        ['default', msg('method $request_method is not allowed on $mlp_path_json; use $mlp_allowed')],
      ],
      'Unknown routes and methods are client errors (docs/api.md#conventions).',
    ),
    map(
      '$http_upgrade',
      '$mlp_connection',
      [
        ['default', 'upgrade'],
        ['""', '""'],
      ],
      'WebSocket upgrades pass through; other requests keep the upstream connection alive.',
    ),
    ...faultMaps(),
    `\n# The access log's format: the path without its query, which may hold a token (browsers send\n# WebSocket tokens as ?token=), and no Referer (a page's address may hold one too). Log with it:\n# access_log <where> ${LOG_FORMAT}; in http {} after this include, and no other access_log.\nlog_format ${LOG_FORMAT} ${LOG_FIELDS};\n`,
  ].join('');
}

/**
 * The access log format of the gateway (docs/deploy.md): the deployment's `http {}` logs with
 * `access_log <where> mlp_gateway;` after including this file, instead of a format with the whole
 * request line. (A path cannot be chosen here: /dev/stdout cannot be opened when it is a socket.)
 */
const LOG_FORMAT = 'mlp_gateway';
const LOG_FIELDS = `'$remote_addr [$time_local] "$request_method $mlp_path $server_protocol" $status $body_bytes_sent $request_time "$http_user_agent" $request_id'`;

/** Public routes grouped by path pattern; a URI matching two different patterns lists the first one's methods. */
function allowedMethods(routes: RouteDef[]): [string, string][] {
  const groups = new Map<string, string[]>();
  for (const r of routes.filter((route) => accessOf(route) !== 'internal')) {
    const key = `"~${pathRegex(r.path)}"`;
    groups.set(key, [...(groups.get(key) ?? []), r.method]);
  }
  return [...groups].map(([key, methods]) => [key, `"${methods.join(' or ')}"`]);
}

/**
 * Which body a refusal or fault gets. The functions put their exact error body in the x-mlp-error
 * header (shared/http/adapter.ts), so an intercepted answer keeps it. Each map is read in one
 * request only: a subrequest shares (and caches) the variables of its parent.
 */
function faultMaps(): string {
  const unavailable = msg('function $mlp_function is unavailable; try again later');
  const authDown = msg('cannot check the token: the auth function is unavailable; try again later');
  return [
    map(
      '$mlp_auth_error',
      '$mlp_refused_body',
      [
        ['""', '$mlp_function_refusal'],
        ['default', '$mlp_auth_error'],
      ],
      'A refused token answers what the auth function said; a refusal by the function itself, what it said.',
    ),
    map(
      '$mlp_auth_error',
      '$mlp_refused_code',
      [
        ['""', '$mlp_function_refusal_code'],
        ['default', '$mlp_auth_code'],
      ],
      "The code of the refusal answered (x-mlp-code): the auth function's, or the function's own.",
    ),
    map(
      '$upstream_http_x_mlp_code',
      '$mlp_function_refusal_code',
      [
        ['""', 'FORBIDDEN'],
        ['default', '$upstream_http_x_mlp_code'],
      ],
      "The code of the function's own 403, when the bearer location intercepted it.",
    ),
    map(
      '$upstream_http_x_mlp_code',
      '$mlp_fault_code',
      [
        ['""', 'UNAVAILABLE'],
        ['default', '$upstream_http_x_mlp_code'],
      ],
      "A function's own 503 keeps its code; otherwise the gateway's fault is UNAVAILABLE.",
    ),
    map(
      '$upstream_http_x_mlp_error',
      '$mlp_function_refusal',
      [
        ['""', msg('access refused')],
        ['default', '$upstream_http_x_mlp_error'],
      ],
      "The function's own 403, when the bearer location intercepted it.",
    ),
    map(
      '$upstream_http_x_mlp_error',
      '$mlp_fault_body',
      [
        ['""', '$mlp_gateway_fault'],
        ['default', '$upstream_http_x_mlp_error'],
      ],
      "A function's own 503 keeps its msg; otherwise the gateway says what failed.",
    ),
    map(
      '$mlp_auth_fault',
      '$mlp_gateway_fault',
      [
        ['""', unavailable],
        ['default', '$mlp_auth_fault'],
      ],
      'Set by the auth subrequest when the token check itself failed (auth_request would answer 500).',
    ),
    map(
      '$upstream_http_x_mlp_error',
      '$mlp_auth_fault_body',
      [
        ['""', authDown],
        ['default', '$upstream_http_x_mlp_error'],
      ],
      'Read inside the auth subrequest only.',
    ),
  ].join('');
}

export function renderK8sUpstreams(routes: RouteDef[], auth: RouteDef, endpoint: RouteDef): string {
  // The Knative Service of each function (knative.ts names it mlp-<name>), reached on port 80.
  const address = (r: RouteDef) => `mlp-${r.name}.${NAMESPACE}.svc.cluster.local:80`;
  const routed = routes.filter((r) => accessOf(r) !== 'internal');
  return [
    '\n# proxy_pass with variables resolves names at request time, so nginx needs a resolver.\n',
    'resolver kube-dns.kube-system.svc.cluster.local valid=10s ipv6=off;\n',
    map('$mlp_function', '$mlp_upstream', [['default', '""'], ...routed.map((r): [string, string] => [r.name, address(r)])], 'The function a routed request goes to.'),
    map('$mlp_function', '$mlp_auth_upstream', [['default', address(auth)]], 'The function the token check goes to.'),
    map('$mlp_app_access', '$mlp_app_check_upstream', [['default', address(endpoint)]], "The function the app gateway's check goes to (internal: the API gateway never routes it)."),
  ].join('');
}
