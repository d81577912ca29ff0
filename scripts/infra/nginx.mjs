// Starts a real Nginx with the generated gateway config (nginx/mlp-routes.conf and
// nginx/mlp-server.conf) in front of one upstream, for tests:
//
//   import { startNginx } from './scripts/infra/nginx.mjs';
//   const gw = await startNginx({ upstream: '127.0.0.1:40123' });  // gw.url, gw.port
//   ...; await gw.stop();
//
// `upstream` is one address for every function (the local runner serves them all) or a map
// from function name to address (each function its own process). With `appGateway: true` the
// same Nginx also serves the app gateway (nginx/mlp-apps-server.conf) in a second server {} on
// its own port (gw.appUrl, gw.appPort). Nginx runs in the foreground as our child, with its
// pid, logs and temp files in a temp dir.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianPackages } from '../lib/setup.mjs';
import { REPO_ROOT, freePorts, sleep } from './lib.mjs';

// njs (libnginx-mod-http-js): the app gateway's kept checks (nginx/mlp-app-check.js).
const PACKAGES = ['nginx', 'libnginx-mod-http-dav-ext', 'libnginx-mod-http-js'];
const START_TIMEOUT_MS = 15000;

// Debian builds the dav-ext module as a dynamic module (its modules-enabled file says
// `load_module modules/…`, relative to the compiled prefix); we run with our own prefix,
// so load it by absolute path from the binary's --modules-path.
export function loadModuleLines() {
  ensureNginx();
  const v = spawnSync('nginx', ['-V'], { encoding: 'utf8' });
  if (v.status !== 0) throw new Error(`nginx -V failed: ${v.stderr}`);
  const modulesPath = (v.stderr.match(/--modules-path=(\S+)/) ?? [])[1] ?? '/usr/lib/nginx/modules';
  const lines = [];
  for (const [builtIn, file] of [
    ['dav-ext', 'ngx_http_dav_ext_module.so'],
    ['njs', 'ngx_http_js_module.so'],
  ]) {
    const module = path.join(modulesPath, file);
    if (!v.stderr.includes(builtIn) && fs.existsSync(module)) lines.push(`load_module ${module};`);
  }
  return lines;
}

/** Installs Nginx and the modules the generated config needs, if missing (idempotent). */
export function ensureNginx() {
  ensureDebianPackages(PACKAGES, (msg) => process.stderr.write(`nginx: ${msg}\n`));
}

/**
 * The app gateway's http-level needs (scripts/gen/nginx-app-check.ts appCheckHttpLines, which
 * test/gateway/nginx-apps.test.ts compares with these): njs's path, the epochs folder, the cache.
 */
export function appCheckHttpLines({ configDir, epochsDir, cacheDir }) {
  return [`js_path ${configDir};`, `js_var $mlp_app_epochs_dir ${epochsDir};`, `proxy_cache_path ${cacheDir} levels=1:2 keys_zone=mlp_app_checks:4m max_size=64m inactive=30s use_temp_path=off;`];
}

function nginxConf(dir, port, configDir, appPort, epochsDir) {
  const tmp = (name) => path.join(dir, 'tmp', name);
  return `# Written by scripts/infra/nginx.mjs for a test gateway; removed on stop.
${loadModuleLines().join('\n')}
daemon off;
master_process on;
${process.getuid?.() === 0 ? '# CI runs as root; workers must be able to read and write what the tests create.\nuser root;' : ''}
worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 512; }
http {
    client_body_temp_path ${tmp('body')};
    proxy_temp_path ${tmp('proxy')};
    fastcgi_temp_path ${tmp('fastcgi')};
    uwsgi_temp_path ${tmp('uwsgi')};
    scgi_temp_path ${tmp('scgi')};
${
  appPort === undefined
    ? ''
    : appCheckHttpLines({ configDir, epochsDir, cacheDir: path.join(dir, 'app-checks') })
        .map((line) => `    ${line}\n`)
        .join('')
}    include ${path.join(configDir, 'mlp-routes.conf')};
    include ${path.join(dir, 'upstreams.test.conf')};
    # Buffered like the cluster's (scripts/gen/k8s-servers.ts): not one write per request.
    access_log ${path.join(dir, 'access.log')} mlp_gateway buffer=64k flush=1s;
    server {
        listen 127.0.0.1:${port};
        include ${path.join(configDir, 'mlp-server.conf')};
    }
${
  appPort === undefined
    ? ''
    : `    server {
        listen 127.0.0.1:${appPort};
        include ${path.join(configDir, 'mlp-apps-server.conf')};
    }
`
}}
`;
}

// `upstream` is one 'host:port' serving every function (the local runner), or a map from
// function name to 'host:port' (each function its own process, as in a cluster). `apps`: also
// the address of the app gateway's check (the apps-endpoint function).
function upstreamConf(upstream, apps) {
  const byFunction = typeof upstream === 'string' ? { '': upstream } : upstream;
  const block = (name) => `mlp_test_${name.replace(/-/g, '_') || 'all'}`;
  const blocks = Object.entries(byFunction).map(
    ([name, address]) => `upstream ${block(name)} {
    server ${address};
    keepalive 16;
    # Below Node's 5 s keep-alive timeout, so nginx never reuses a socket the server is closing.
    keepalive_timeout 4s;
}`,
  );
  if (typeof upstream === 'string') {
    return `# Written by scripts/infra/nginx.mjs: every function is served by ${upstream}.
${blocks.join('\n')}
map $mlp_function $mlp_upstream { default ${block('')}; }
map $mlp_function $mlp_auth_upstream { default ${block('')}; }
${apps ? `map $mlp_app_access $mlp_app_check_upstream { default ${block('')}; }\n` : ''}`;
  }
  if (!upstream['users-auth']) throw new Error('the upstream map must name users-auth (the gateway checks tokens with it)');
  if (apps && !upstream[APP_CHECK]) throw new Error(`the upstream map must name ${APP_CHECK} to serve the app gateway (its check calls it)`);
  const entries = Object.keys(upstream)
    .map((name) => `    ${name} ${block(name)};`)
    .join('\n');
  return `# Written by scripts/infra/nginx.mjs: one upstream per function process.
${blocks.join('\n')}
map $mlp_function $mlp_upstream {
${entries}
}
map $mlp_function $mlp_auth_upstream { default ${block('users-auth')}; }
${apps ? `map $mlp_app_access $mlp_app_check_upstream { default ${block(APP_CHECK)}; }\n` : ''}`;
}

// The function the app gateway's auth_request calls (scripts/gen/nginx.ts APP_ENDPOINT_FUNCTION).
const APP_CHECK = 'apps-endpoint';

// Resolves once the gateway answers anything (/data/ is answered by nginx itself).
async function waitUntilAnswering(url, child, stderr) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}) at start: ${stderr().trim()}`);
    }
    try {
      const res = await fetch(`${url}/data/`);
      await res.arrayBuffer();
      return;
    } catch (err) {
      // Refused: not listening yet. Reset or closed: nginx let go of a port it had bound, as it
      // does when it cannot bind another; it then exits, and the check above says why.
      if (!['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET'].includes(err?.cause?.code)) throw err;
    }
    await sleep(50);
  }
  throw new Error(`nginx did not answer within ${START_TIMEOUT_MS} ms: ${stderr().trim()}`);
}

async function startOnce({ upstream, port, appPort, configDir, epochsDir, log }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-nginx-'));
  for (const name of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, 'tmp', name), { recursive: true });
  fs.writeFileSync(path.join(dir, 'upstreams.test.conf'), upstreamConf(upstream, appPort !== undefined));
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, nginxConf(dir, port, configDir, appPort, epochsDir ?? path.join(dir, 'epochs')));

  const child = spawn('nginx', ['-p', `${dir}/`, '-c', conf, '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderrText = '';
  child.stderr.on('data', (chunk) => {
    stderrText = (stderrText + chunk.toString()).slice(-8192);
  });
  const errorLog = () => {
    const file = path.join(dir, 'error.log');
    return stderrText + (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').slice(-8192) : '');
  };
  const exited = new Promise((resolve) => child.once('exit', resolve));

  let stopping;
  const killNow = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); // master stops its workers
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal) => {
    killNow();
    // Only re-raise when no one else handles the signal, so the default (exit) still happens.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.on('exit', killNow);
  for (const s of ['SIGINT', 'SIGTERM']) process.once(s, onSignal);

  const stop = () => {
    stopping ??= (async () => {
      process.off('exit', killNow);
      for (const s of ['SIGINT', 'SIGTERM']) process.off(s, onSignal);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const url = `http://127.0.0.1:${port}`;
  const appUrl = appPort === undefined ? undefined : `http://127.0.0.1:${appPort}`;
  try {
    await waitUntilAnswering(url, child, errorLog);
    // nginx binds every listen address before it serves any, so the app port is up as well.
  } catch (err) {
    const text = errorLog();
    await stop();
    err.addressInUse = /Address already in use/.test(text);
    throw err;
  }
  const where = typeof upstream === 'string' ? upstream : JSON.stringify(upstream);
  log(`nginx ${child.pid} serves ${url}${appUrl ? ` and the app gateway ${appUrl}` : ''} in front of ${where}`);
  return { url, port, ...(appUrl ? { appUrl, appPort } : {}), pid: child.pid, dir, errorLog, stop };
}

/**
 * Starts Nginx with the generated gateway config in front of `upstream` ('host:port').
 * `configDir` holds mlp-routes.conf and mlp-server.conf (default: the checkout's nginx/;
 * tests may render others). Returns { url, port, pid, errorLog(), stop() }; stop() is
 * idempotent, and the process is also stopped when this process exits or gets SIGINT/SIGTERM.
 * `appGateway: true` also serves mlp-apps-server.conf on `appPort` (default: a free port), its
 * check going to the upstream's apps-endpoint; the result then has appUrl and appPort too.
 * `epochsDir`: the users' check epochs (MLP_ROOT/gateway/epochs of the platform behind; default an
 * empty folder of nginx's own, where every epoch is "-").
 */
export async function startNginx({ upstream, port, appGateway = false, appPort, configDir = path.join(REPO_ROOT, 'nginx'), epochsDir, log = () => {} } = {}) {
  const addresses = typeof upstream === 'object' && upstream !== null ? Object.values(upstream) : [upstream];
  for (const address of addresses) {
    if (!/^[A-Za-z0-9.-]+:\d+$/.test(address ?? '')) throw new Error(`startNginx: an upstream must be "host:port", got ${address}`);
  }
  ensureNginx();
  if (appPort !== undefined && !appGateway) throw new Error('startNginx: appPort is for appGateway: true');
  // A free port can be taken by a parallel test before nginx binds it: pick another then.
  for (let attempt = 1; ; attempt++) {
    const free = await freePorts(2);
    const chosen = port ?? free[0];
    const chosenApp = appGateway ? (appPort ?? free.find((p) => p !== chosen)) : undefined;
    try {
      return await startOnce({ upstream, port: chosen, appPort: chosenApp, configDir, epochsDir, log });
    } catch (err) {
      const picked = port === undefined || (appGateway && appPort === undefined);
      if (!err.addressInUse || !picked || attempt >= 5) throw err;
    }
  }
}
