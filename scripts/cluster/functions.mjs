// Every registered function as its own template process (the built dist/ image contents), on free
// loopback ports, and the cron-connector's part: scheduled functions get POST / on their interval.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePorts, sleep } from '../infra/lib.mjs';
import { ROOT } from '../lib/setup.mjs';

const ENTRY = path.join(ROOT, 'dist/templates/mlp-node20/index.js');

/** The routes of the built functions (route.js only: the handlers load in their own processes). */
export async function builtRoutes() {
  const dir = path.join(ROOT, 'dist/functions');
  const names = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  return Promise.all(names.map(async (name) => (await import(pathToFileURL(path.join(dir, name, 'route.js')).href)).default));
}

function tail(file) {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-15).join('\n') : '(no output)';
}

/**
 * One folder per function holding only the secrets its route needs (shared/config/secrets.ts secretsOf),
 * one file per secret as OpenFaaS mounts them; the values are MLP_SECRET / MLP_SERVICE_TOKEN when
 * set, else those `npm start` keeps under MLP_ROOT/secrets (made on first use).
 */
async function writeSecrets(routes, env, dir) {
  const lib = (file) => import(pathToFileURL(path.join(ROOT, 'dist/shared', file)).href);
  const [{ loadConfig }, { resolveSecrets, secretsOf, SECRET_SOURCES }] = await Promise.all([lib('config/load.js'), lib('config/secrets.js')]);
  const values = await resolveSecrets(loadConfig(env));
  const byName = { 'signing-key': values.secret, 'service-token': values.serviceToken };
  const dirs = {};
  for (const route of routes) {
    dirs[route.name] = path.join(dir, route.name);
    fs.mkdirSync(dirs[route.name], { recursive: true, mode: 0o700 });
    for (const name of secretsOf(route)) fs.writeFileSync(path.join(dirs[route.name], SECRET_SOURCES[name].secret), byName[name], { mode: 0o600 });
  }
  return dirs;
}

/**
 * One function as its pod would run: started, and started again with backoff whenever it exits
 * (Kubernetes restarts a crashed container; a function that cannot reach MongoDB at start exits).
 */
function supervise({ name, env, logFile, log }) {
  let child;
  let stopped = false;
  let restarts = 0;
  let timer;
  const listeners = [];
  const run = () => {
    const fd = fs.openSync(logFile, 'a');
    child = spawn(process.execPath, [ENTRY], { cwd: ROOT, env, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    child.once('exit', (code, signal) => {
      if (stopped) return;
      restarts += 1;
      const delay = Math.min(1000 * 2 ** Math.min(restarts - 1, 5), 30_000);
      log(`function ${name} ended (${signal ?? `exit ${code}`}); restart ${restarts} in ${delay / 1000} s: ${lastLine(logFile)}`);
      for (const l of listeners) l(name, signal ?? code);
      timer = setTimeout(run, delay);
    });
  };
  run();
  return {
    restarts: () => restarts,
    onExit: (l) => listeners.push(l),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited.finally(() => clearTimeout(kill));
    },
  };
}

function lastLine(file) {
  return tail(file).split('\n').at(-1)?.slice(0, 300) ?? '';
}

async function waitReady(name, address, logFile, deadline) {
  let other;
  for (;;) {
    try {
      const res = await fetch(`http://${address}/_/ready`);
      // The port was free when picked; another process may have taken it before the function bound
      // it (the function then restarts until it can): only the function itself counts as ready.
      const who = res.headers.get('x-mlp-function');
      if (res.status === 200 && who === name) return;
      other = who ?? 'something else';
    } catch {
      // not listening yet (or restarting)
    }
    if (Date.now() > deadline) throw new Error(`function ${name} not ready in time${other ? ` (${address} answered as ${other})` : ''}:\n${tail(logFile)}`);
    await sleep(250);
  }
}

/**
 * Starts them all, at most START_AT_ONCE at a time (fifty cold starts at once on two cores time out
 * their MongoDB connections), and waits until each answers /_/ready. `access.needs(route)` says
 * which get `access.env` (the orchestrator's Kubernetes credentials: only the functions marked as
 * using it); the others get `access.noneEnv` (none).
 */
const START_AT_ONCE = 8;

export async function startFunctions({ env, access, logDir, secretsDir, log, timeoutMs = 600_000 }) {
  fs.mkdirSync(logDir, { recursive: true });
  const routes = await builtRoutes();
  const secretDirs = await writeSecrets(routes, env, secretsDir);
  // Each gets its own secrets as OpenFaaS mounts them, never the values in the environment.
  const { MLP_SECRET, MLP_SERVICE_TOKEN, ...shared } = env;
  const ports = await freePorts(routes.length);
  const addresses = Object.fromEntries(routes.map((route, i) => [route.name, `127.0.0.1:${ports[i]}`]));
  const running = [];
  const timers = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const timer of timers) clearInterval(timer);
    await Promise.all(running.map((r) => r.stop()));
  };
  const deadline = Date.now() + timeoutMs;
  const queue = routes.map((route, i) => ({ route, port: ports[i] }));
  const starter = async () => {
    for (let next = queue.shift(); next && !stopping; next = queue.shift()) {
      const { route, port } = next;
      const logFile = path.join(logDir, `${route.name}.log`);
      running.push(
        supervise({
          name: route.name,
          logFile,
          log,
          env: { ...shared, ...(access.needs(route) ? access.env : access.noneEnv), MLP_SECRETS_DIR: secretDirs[route.name], MLP_FUNCTION: route.name, PORT: String(port) },
        }),
      );
      await waitReady(route.name, addresses[route.name], logFile, deadline);
    }
  };
  try {
    await Promise.all(Array.from({ length: START_AT_ONCE }, starter));
  } catch (err) {
    await stop();
    throw err;
  }
  const restarted = running.reduce((n, r) => n + r.restarts(), 0);
  log(`${routes.length} functions ready${restarted ? ` (${restarted} restarts during start)` : ''}`);
  for (const route of routes) {
    if (!route.schedule) continue;
    let busy = false;
    timers.push(
      setInterval(() => {
        if (busy || stopping) return;
        busy = true;
        // OpenFaaS's cron-connector and Knative's PingSource POST to the function's root.
        fetch(`http://${addresses[route.name]}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
          .then(async (res) => {
            if (res.status !== 200 && !stopping) log(`scheduled ${route.name}: ${res.status} ${(await res.text()).slice(0, 200)}`);
          })
          .catch((err) => {
            if (!stopping) log(`scheduled ${route.name} failed: ${err.message}`);
          })
          .finally(() => {
            busy = false;
          });
      }, route.schedule.everySeconds * 1000),
    );
  }
  return { addresses, stop };
}
