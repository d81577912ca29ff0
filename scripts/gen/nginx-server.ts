import { MAX_BODY_BYTES } from '../../shared/http/server.js';
import type { RouteDef } from '../../shared/routes/route.js';
import { type Answer, answer, answerLocation, block, msg, proxyTo, SUBREQUEST } from './nginx-config.js';

// The API gateway's server {} (nginx/mlp-server.conf): dispatch by access, auth_request, and a JSON answer for every error.

/**
 * Locations that answer JSON; error_page sends nginx's own errors here instead of HTML. A request
 * nginx refuses while reading its request line (a path that climbs above the root once decoded,
 * `/../x` or `..%2F`, a NUL) has no URI, and a named location cannot be reached without one (nginx
 * then answers its own 500 page): those errors go to an internal location by URI instead.
 */
const ANSWERS: Record<string, Answer> = {
  '@mlp_unrouted': { status: 403, body: '$mlp_unrouted_body', code: 'INVALID' },
  '/_mlp/malformed': { status: 403, body: msg('the request is malformed'), code: 'INVALID' },
  '@mlp_too_large': { status: 403, body: msg(`body is larger than ${MAX_BODY_BYTES} bytes`), code: 'INVALID' },
  '@mlp_refused': { status: 403, body: '$mlp_refused_body', code: '$mlp_refused_code' },
  // The 401 of the token check on /data (docs/api.md#datasets): auth_request itself passes the check's
  // WWW-Authenticate (Basic realm="MLP") on with it, so it is not added here a second time.
  '@mlp_challenge': { status: 401, body: '$mlp_refused_body', code: '$mlp_refused_code' },
  '@mlp_unavailable': { status: 503, body: '$mlp_fault_body', code: '$mlp_fault_code' },
  '@mlp_timeout': { status: 503, body: msg('function $mlp_function did not answer in time; try again later'), code: 'UNAVAILABLE' },
  '@mlp_fault': { status: 503, body: msg('the gateway failed on this request (request $request_id); try again later'), code: 'INTERNAL' },
};

/**
 * error_page is inherited only by locations that define none, so each location lists them all.
 * An override of null leaves that status out: an upstream's answer with it passes through as it is.
 */
function errorPages(overrides: Record<number, string | null> = {}): string[] {
  const pages: Record<number, string | null> = {
    400: '/_mlp/malformed',
    404: '@mlp_unrouted',
    405: '@mlp_unrouted',
    411: '/_mlp/malformed',
    413: '@mlp_too_large',
    414: '/_mlp/malformed',
    494: '/_mlp/malformed',
    500: '@mlp_fault',
    502: '@mlp_unavailable',
    503: '@mlp_unavailable',
    504: '@mlp_timeout',
    ...overrides,
  };
  const byTarget = new Map<string, number[]>();
  for (const [code, target] of Object.entries(pages)) if (target !== null) byTarget.set(target, [...(byTarget.get(target) ?? []), Number(code)]);
  return [...byTarget].map(([target, codes]) => `error_page ${codes.join(' ')} = ${target};`);
}

export function renderServer(auth: RouteDef): string {
  const serverLevel = [
    `# The platform's own limit for buffered routes (shared/http/server.ts); stream routes lift it.`,
    `client_max_body_size ${MAX_BODY_BYTES};`,
    'proxy_http_version 1.1;',
    'proxy_connect_timeout 5s;',
    '# Long enough for slow functions; a WebSocket or ?follow=1 stream will want its own location.',
    'proxy_read_timeout 60s;',
    'proxy_send_timeout 60s;',
    'server_tokens off;',
    '# Read by the maps above even on requests that never set them; empty means "not set".',
    'set $mlp_auth_error "";',
    'set $mlp_auth_fault "";',
    ...errorPages(),
  ].join('\n');
  const locations = [
    block(
      'location /',
      [
        // nginx checks a declared length against the limit of every location the request passes;
        // the limit that counts is the one of the location it is rewritten to.
        'client_max_body_size 0;',
        'rewrite ^ /_mlp/$mlp_access last;',
      ],
      'Every path goes through the route map; the rewrite keeps method and body.',
    ),
    block(
      'location = /_mlp/open',
      [
        'internal;',
        ...errorPages({ 500: '@mlp_unavailable' }),
        // Only the gateway's own check names the request it checks (the 401 on /data depends on it).
        'proxy_set_header X-Original-URI "";',
        ...proxyTo('http://$mlp_upstream$request_uri'),
      ],
      'Routes whose function checks the caller itself (auth none or basic).',
    ),
    block('location = /_mlp/bearer', bearerLocation([]), "Routes that need a user's Bearer token: checked by auth_request before the function is reached."),
    block('location = /_mlp/stream', bearerLocation(STREAMING), 'Stream routes: Bearer-checked like the above; answers of any length, unbuffered.'),
    // RFC 4918's own statuses from the function (400, 404, 405; 409, 412 and 415 have no page) pass
    // through with their {msg} body.
    block(
      'location = /_mlp/dav',
      bearerLocation([...STREAMING, ...FILE_BUFFERS], '@mlp_challenge', [400, 404, 405]),
      'WebDAV (/data): a stream route whose request without credentials is challenged: the check answers 401 with\n# WWW-Authenticate: Basic, and Basic with the username and an API token counts as the token (docs/api.md#datasets).',
    ),
    block(
      'location = /_mlp/auth',
      [
        ...SUBREQUEST,
        // The check never reads the body, but nginx applies this location's limit to its length.
        'client_max_body_size 0;',
        ...errorPages({ 500: '@mlp_auth_fault', 502: '@mlp_auth_fault', 503: '@mlp_auth_fault', 504: '@mlp_auth_fault' }),
        `proxy_pass http://$mlp_auth_upstream${auth.path}$mlp_query;`,
      ],
      `The token check: ${auth.name} answers 200, or 403 with the reason in x-mlp-error (on /data, 401 with the challenge when no credentials came).`,
    ),
    block('location @mlp_auth_fault', ['set $mlp_auth_fault $mlp_auth_fault_body;', 'return 503;'], 'Runs in the auth subrequest; the parent sees $mlp_auth_fault (subrequests share variables).'),
    block(
      'location = /_mlp/internal',
      ['internal;', ...answer(403, msg('$request_method $mlp_path_json is internal to the platform; the gateway does not route it'), 'INVALID')],
      'Internal routes (service token) are for functions calling each other inside the cluster (docs/api.md#resources).',
    ),
    block('location = /_mlp/unrouted', ['internal;', ...answer(403, '$mlp_unrouted_body', 'INVALID')]),
    ...Object.entries(ANSWERS).map(([name, a]) => answerLocation(name, a)),
  ];
  return `${serverLevel}\n${locations.join('')}`;
}

/** Stream locations: the function enforces each dataset's size itself; bodies pass through as they arrive. */
/**
 * WebDAV's files move through nginx in 256 KiB reads and writes rather than one or two memory
 * pages (8 KiB of a body, 4 KiB of an answer): 32 times fewer system calls per byte. Only here,
 * not on WebSocket routes, where each open socket would hold them.
 */
const FILE_BUFFERS = [
  'client_body_buffer_size 256k;',
  'proxy_buffer_size 256k;',
  // nginx requires these to fit the answer buffer above (they are used only when buffering, never here).
  'proxy_buffers 4 256k;',
  'proxy_busy_buffers_size 512k;',
];

const STREAMING = ['client_max_body_size 0;', 'proxy_request_buffering off;', 'proxy_buffering off;', 'proxy_read_timeout 3600s;', 'proxy_send_timeout 3600s;'];

/**
 * A location whose requests auth_request checks first; `extra` tunes it (limits, buffering).
 * `unauthorized`: where a 401 goes (only /data has one: the challenge); elsewhere it is a 403.
 */
function bearerLocation(extra: string[], unauthorized = '@mlp_refused', passThrough: number[] = []): string[] {
  return [
    'internal;',
    'auth_request /_mlp/auth;',
    'auth_request_set $mlp_auth_error $upstream_http_x_mlp_error;',
    'auth_request_set $mlp_auth_code $upstream_http_x_mlp_code;',
    ...extra,
    // 401/403 are the refused token or, intercepted, the function's own refusal;
    // 500 is auth_request's answer when the check itself failed, or an upstream's.
    ...errorPages({ 401: unauthorized, 403: '@mlp_refused', 500: '@mlp_unavailable', ...Object.fromEntries(passThrough.map((code) => [code, null])) }),
    ...proxyTo('http://$mlp_upstream$request_uri'),
  ];
}
