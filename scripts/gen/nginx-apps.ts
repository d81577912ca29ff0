import type { RouteDef } from '../../shared/routes/route.js';
import { DEFAULT_PATTERN } from '../../shared/core/validation.js';
import { APP_CHECK_LOCATION_LINES, APP_CHECK_SERVER_LINES } from './nginx-app-check.js';
import { type Answer, answer, answerLocation, block, map, msg, PROXY_HEADERS, pathRegex, SUBREQUEST } from './nginx-config.js';

// The app gateway (docs/api.md#applications): its maps in nginx/mlp-routes.conf and its own server {} in nginx/mlp-apps-server.conf (port 30002).

/** The function the app gateway asks where a ready app is served (functions/apps-endpoint). */
export const APP_ENDPOINT_FUNCTION = 'apps-endpoint';

export function appEndpointRoute(routes: RouteDef[]): RouteDef {
  const found = routes.find((r) => r.name === APP_ENDPOINT_FUNCTION);
  const want = `GET, auth owner, internal, with {user} and {app} in its path`;
  if (!found) throw new Error(`nginx: no function ${APP_ENDPOINT_FUNCTION}, which the app gateway's auth_request calls (${want})`);
  const params = [...found.path.matchAll(/\{([a-z_+]+)\}/g)].map((m) => m[1]).sort();
  if (found.method !== 'GET' || found.auth !== 'owner' || !found.internal || params.join() !== 'app,user') {
    throw new Error(`nginx: ${APP_ENDPOINT_FUNCTION} must be ${want}; it is ${found.method} ${found.path}, auth ${found.auth}${found.internal ? ', internal' : ''}`);
  }
  pathRegex(found.path); // its characters must be quotable too
  return found;
}

/** Printable ASCII without `"` and `\`: safe inside a JSON string and a header. */
const JSON_SAFE = '\\x21\\x23-\\x5b\\x5d-\\x7e';
/** The same without `/`: one path segment. */
const JSON_SAFE_SEGMENT = '\\x21\\x23-\\x2e\\x30-\\x5b\\x5d-\\x7e';

/** A {param}'s contract pattern (`^…$`) as a piece of an nginx regex: no groups, no slash, no quotes. */
function segmentPattern(route: RouteDef, param: string): string {
  const pattern = route.params?.[param] ?? DEFAULT_PATTERN;
  const inner = /^\^([^()/?|\\'"\s]+)\$$/.exec(pattern)?.[1];
  if (!inner) throw new Error(`nginx: the {${param}} pattern of ${route.name} (${pattern}) cannot be used in the app gateway's path map`);
  return inner;
}

/** The patterns as the local app gateway words them (shared/apps/gateway.ts); `$` comes from $mlp_dollar. */
function patternWords(endpoint: RouteDef): string {
  const [user, app] = ['user', 'app'].map((p) => `^${segmentPattern(endpoint, p)}$mlp_dollar`);
  return user === app ? `both ${user}` : `user ${user}, app ${app}`;
}

/**
 * http level, in mlp-routes.conf: the app gateway's path map and its answers. Routing reads the
 * path exactly as the client sent it ($request_uri), and the same raw path goes to the app.
 */
export function renderAppMaps(endpoint: RouteDef): string {
  const user = segmentPattern(endpoint, 'user');
  const app = segmentPattern(endpoint, 'app');
  const use = 'use /{user}/{app}/\\u2026 on the app gateway';
  return [
    '\n# ----------------------------------------------------------- the app gateway (mlp-apps-server.conf)\n',
    '\n# A literal $ for messages: nginx has no escape for it in strings with variables; geo values are plain.\n',
    'geo $mlp_dollar { default "$"; }\n',
    map(
      '$request_uri',
      '$mlp_app_access',
      [
        ['default', 'unrouted'],
        [`"~^/(?<mlp_app_user>${user})/(?<mlp_app_name>${app})(?<mlp_app_rest>/[^?]*)?(\\?|$)"`, 'app'],
      ],
      'app: /{user}/{app}[/rest][?query] with both names valid (the captures are read only then); anything else is refused.',
    ),
    map('$mlp_app_access', '$mlp_app_refusal', [['default', '""']], "Set by mlp-apps-server.conf (auth_request_set): the check's refusal. Declared here, so this file works without that server."),
    map('$mlp_app_access', '$mlp_app_refusal_code', [['default', '""']], "Set by mlp-apps-server.conf (auth_request_set): the check's refusal's code. Declared here like the above."),
    '\n# The check answered something other than 200 (a refusal, a fault): never kept, whatever its headers say.\n',
    'map $upstream_status $mlp_app_check_not_ok {\n    volatile;\n    200     "";\n    default 1;\n}\n',
    map('$mlp_app_access', '$mlp_app_no_epoch', [['default', '""']], 'Set by mlp-apps-server.conf in the check when the owner has no check epoch file. Declared here like the refusal.'),
    map('$mlp_app_access', '$mlp_app_check_fault', [['default', '""']], 'Set by mlp-apps-server.conf inside the check subrequest when the check failed. Declared here like the above.'),
    map(
      '$mlp_app_rest',
      '$mlp_app_path',
      [
        ['""', '/'],
        ['default', '$mlp_app_rest'],
      ],
      'The path the app gets: the rest after /{user}/{app}, as sent; / when there is none.',
    ),
    map(
      '$mlp_path',
      '$mlp_app_unrouted_body',
      [
        ['default', msg(`${use}, not (a path with characters that need percent-encoding)`)],
        [
          `"~^/(?<mlp_app_bad_user>[${JSON_SAFE_SEGMENT}]{1,60})[${JSON_SAFE_SEGMENT}]*/(?<mlp_app_bad_name>[${JSON_SAFE_SEGMENT}]{1,60})[${JSON_SAFE_SEGMENT}]*(/|$)"`,
          msg(`/$mlp_app_bad_user/$mlp_app_bad_name is not /{user}/{app} (${patternWords(endpoint)})`),
        ],
        ['"~^/[^/]+/[^/]+(/|$)"', msg(`${use} (${patternWords(endpoint)}); this path has characters that need percent-encoding`)],
        [`"~^(?<mlp_app_short_path>[${JSON_SAFE}]{0,100})[${JSON_SAFE}]*$"`, msg(`${use}, not $mlp_app_short_path`)],
      ],
      "A path that is not /{user}/{app}/…: the local app gateway's words (the names cut at 60 characters, the path at 100).",
    ),
    map(
      '$mlp_app_access',
      '$mlp_app_refused_path_body',
      [
        ['default', '$mlp_app_unrouted_body'],
        ['app', msg('$mlp_path_json leads out of /{user}/{app}/\\u2026 once its dot segments are resolved; send the path without them')],
      ],
      'nginx resolves dot segments before it picks a location, the path map reads the path as sent: they disagree only on a path that leads to an internal location.',
    ),
    map(
      '$mlp_app_refusal',
      '$mlp_app_refused_body',
      [
        ['""', msg('access refused')],
        ['default', '$mlp_app_refusal'],
      ],
      `What ${endpoint.name} said when it refused (no or another user's token, unknown app, app not ready).`,
    ),
    map(
      '$mlp_app_refusal_code',
      '$mlp_app_refused_code',
      [
        ['""', 'FORBIDDEN'],
        ['default', '$mlp_app_refusal_code'],
      ],
      `The code of ${endpoint.name}'s refusal (x-mlp-code).`,
    ),
    map(
      '$mlp_app_check_fault',
      '$mlp_app_fault_body',
      [
        ['""', msg('the app gateway failed on this request (request $request_id); try again later')],
        ['default', '$mlp_app_check_fault'],
      ],
      "auth_request answers 500 when the check itself failed; the check's own words are in $mlp_app_check_fault.",
    ),
    map(
      '$upstream_http_x_mlp_error',
      '$mlp_app_check_fault_body',
      [
        ['""', msg(`cannot check the app: function ${endpoint.name} is unavailable; try again later`)],
        ['default', '$upstream_http_x_mlp_error'],
      ],
      `Read inside the check subrequest only: ${endpoint.name}'s own 503 keeps its msg.`,
    ),
  ].join('');
}

/** The app gateway's JSON answers; error_page sends nginx's own errors here instead of HTML (by URI where there may be none: see ANSWERS in scripts/gen/nginx-server.ts). */
const APP_ANSWERS: Record<string, Answer> = {
  '@mlp_app_unrouted': { status: 403, body: '$mlp_app_refused_path_body', code: 'INVALID' },
  '/_mlp_app/malformed': { status: 403, body: msg('the request is malformed'), code: 'INVALID' },
  '@mlp_app_not_allowed': { status: 403, body: msg('method $request_method is not allowed on the app gateway'), code: 'INVALID' },
  '@mlp_app_refused': { status: 403, body: '$mlp_app_refused_body', code: '$mlp_app_refused_code' },
  '@mlp_app_unavailable': { status: 503, body: msg('app $mlp_app_name is not answering; try again in a moment'), code: 'UNAVAILABLE' },
  '@mlp_app_timeout': { status: 503, body: msg('app $mlp_app_name did not answer in time; try again later'), code: 'UNAVAILABLE' },
  '@mlp_app_fault': { status: 503, body: '$mlp_app_fault_body', code: 'UNAVAILABLE' },
  '@mlp_app_gateway_unavailable': { status: 503, body: msg('the app gateway is unavailable (request $request_id); try again later'), code: 'UNAVAILABLE' },
};

/** error_page for the app gateway; `inApp`: in the location that proxies to the app (whose captures are set). */
function appErrorPages(inApp: boolean): string[] {
  const pages: Record<number, string> = {
    400: '/_mlp_app/malformed',
    404: '@mlp_app_unrouted',
    405: '@mlp_app_not_allowed',
    411: '/_mlp_app/malformed',
    413: '/_mlp_app/malformed',
    414: '/_mlp_app/malformed',
    494: '/_mlp_app/malformed',
    500: '@mlp_app_fault',
    502: inApp ? '@mlp_app_unavailable' : '@mlp_app_gateway_unavailable',
    503: inApp ? '@mlp_app_unavailable' : '@mlp_app_gateway_unavailable',
    504: inApp ? '@mlp_app_timeout' : '@mlp_app_gateway_unavailable',
  };
  if (inApp) Object.assign(pages, { 401: '@mlp_app_refused', 403: '@mlp_app_refused' });
  const byTarget = new Map<string, number[]>();
  for (const [code, target] of Object.entries(pages)) byTarget.set(target, [...(byTarget.get(target) ?? []), Number(code)]);
  return [...byTarget].map(([target, codes]) => `error_page ${codes.join(' ')} = ${target};`);
}

/**
 * The app gateway's server {} (port 30002), as shared/apps/gateway.ts does it in Node:
 * /{user}/{app}/{rest} is checked by auth_request against the endpoint function with the
 * caller's own Authorization header; a ready app's answer names its server in
 * x-mlp-app-upstream and the request goes there with the rest of the path and the query,
 * without the user's token. The app's own answers (its 403 {msg} too) pass through untouched.
 */
export function renderAppServer(endpoint: RouteDef): string {
  const checkUri = endpoint.path.replace('{user}', '${mlp_app_user}').replace('{app}', '${mlp_app_name}');
  const serverLevel = [
    '# Bodies pass through as they arrive, of any size: the app enforces its own limit (as locally).',
    'client_max_body_size 0;',
    'proxy_http_version 1.1;',
    'proxy_connect_timeout 5s;',
    '# A prediction may take a while; the app, not the gateway, decides when it is too slow.',
    'proxy_read_timeout 300s;',
    'proxy_send_timeout 300s;',
    'server_tokens off;',
    ...APP_CHECK_SERVER_LINES,
    ...appErrorPages(false),
  ].join('\n');
  const locations = [
    block('location /', ['rewrite ^ /_mlp_app/$mlp_app_access last;'], 'Every path goes through the path map; the rewrite keeps method, query and body.'),
    block(
      'location = /_mlp_app/app',
      [
        'internal;',
        'auth_request /_mlp_app/check;',
        'auth_request_set $mlp_app_upstream $upstream_http_x_mlp_app_upstream;',
        'auth_request_set $mlp_app_refusal $upstream_http_x_mlp_error;',
        'auth_request_set $mlp_app_refusal_code $upstream_http_x_mlp_code;',
        // 401/403 are the check's refusal (never the app's: its answers are not intercepted);
        // 500 is auth_request's answer when the check failed; 502/504 the app not answering.
        ...appErrorPages(true),
        'proxy_request_buffering off;',
        'proxy_buffering off;',
        ...PROXY_HEADERS,
        "# The app needs no token: the user's stays here.",
        'proxy_set_header Authorization "";',
        'proxy_set_header Upgrade "";',
        '# HTTP/1.1 without "Connection: close". nginx keeps upstream connections alive only for an',
        "# upstream {} block, and an app's address is known per request only, so each request to an",
        "# app opens its own connection. Clients' connections are kept alive, and so are the check's",
        '# when its upstream is a block with keepalive and its answer has no body (auth_request reads none).',
        'proxy_set_header Connection "";',
        "# The app's own answers, errors included, reach the client as the app sent them.",
        'proxy_intercept_errors off;',
        'proxy_pass http://$mlp_app_upstream$mlp_app_path$is_args$args;',
      ],
      `/{user}/{app}/{rest}: ${endpoint.name} checks the owner's token and the app first.`,
    ),
    block(
      'location = /_mlp_app/check',
      [
        ...SUBREQUEST,
        ...APP_CHECK_LOCATION_LINES,
        'error_page 500 502 503 504 = @mlp_app_check_fault;',
        'error_page 404 = @mlp_app_check_missing;',
        `proxy_pass http://$mlp_app_check_upstream${checkUri};`,
      ],
      `The check: ${endpoint.name} answers 200 with x-mlp-app-upstream (kept for as long as x-accel-expires says), or 403 with the reason in x-mlp-error. Only the Authorization header counts (no ?token=).`,
    ),
    block(
      'location @mlp_app_check_fault',
      ['set $mlp_app_check_fault $mlp_app_check_fault_body;', 'return 503;'],
      'Runs in the check subrequest; the parent sees $mlp_app_check_fault (subrequests share variables).',
    ),
    block(
      'location @mlp_app_check_missing',
      ['if ($upstream_status = "") {', '    rewrite ^ /_mlp_app/unrouted last;', '}', 'set $mlp_app_check_fault $mlp_app_check_fault_body;', 'return 503;'],
      "A 404 with no upstream is a client asking for the internal location itself; from the function's address, the function is missing.",
    ),
    block('location = /_mlp_app/unrouted', ['internal;', ...answer(403, '$mlp_app_refused_path_body', 'INVALID')]),
    ...Object.entries(APP_ANSWERS).map(([name, a]) => answerLocation(name, a)),
  ];
  return `${serverLevel}\n${locations.join('')}`;
}
