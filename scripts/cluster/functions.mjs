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
  const names = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  return Promise.all(names.map(async (name) => (await import(pathToFileURL(path.join(dir, name, 'route.js')).href)).default));
}

async function waitReady(name, address, child, logFile, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`function ${name} exited during start (${child.signalCode ?? child.exitCode}):\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(`http://${address}/_/ready`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`function ${name} not ready in ${timeoutMs} ms:\n${tail(logFile)}`);
    await sleep(200);
  }
}

function tail(file) {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-15).join('\n') : '(no output)';
}

/**
 * One folder per function holding only the secrets its route needs (shared/secrets.ts secretsOf),
 * one file per secret as OpenFaaS mounts them; the values are MLP_SECRET / MLP_SERVICE_TOKEN when
 * set, else those `npm start` keeps under MLP_ROOT/secrets (made on first use).
 */
async function writeSecrets(routes, env, dir) {
  const lib = (file) => import(pathToFileURL(path.join(ROOT, 'dist/shared', file)).href);
  const [{ loadConfig }, { resolveSecrets, secretsOf, SECRET_SOURCES }] = await Promise.all([lib('config.js'), lib('secrets.js')]);
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
 * Starts them all and waits until each answers /_/ready. `access.needs(route)` says which get
 * `access.env` (the orchestrator's Kubernetes credentials: only the functions marked as using it).
 */
export async function startFunctions({ env, access, logDir, secretsDir, log }) {
  fs.mkdirSync(logDir, { recursive: true });
  const routes = await builtRoutes();
  const secretDirs = await writeSecrets(routes, env, secretsDir);
  // Each gets its own secrets as OpenFaaS mounts them, never the values in the environment.
  const { MLP_SECRET, MLP_SERVICE_TOKEN, ...shared } = env;
  const ports = await freePorts(routes.length);
  const addresses = {};
  const children = new Map();
  const crashListeners = [];
  let stopping = false;
  routes.forEach((route, i) => {
    const address = `127.0.0.1:${ports[i]}`;
    addresses[route.name] = address;
    const logFile = path.join(logDir, `${route.name}.log`);
    const fd = fs.openSync(logFile, 'a');
    const child = spawn(process.execPath, [ENTRY], {
      cwd: ROOT,
      env: { ...shared, ...(access.needs(route) ? access.env : access.noneEnv), MLP_SECRETS_DIR: secretDirs[route.name], MLP_FUNCTION: route.name, PORT: String(ports[i]) },
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    child.once('exit', (code, signal) => { if (!stopping) for (const l of crashListeners) l(route.name, signal ?? code); });
    children.set(route.name, { child, logFile, address });
  });
  const stop = async () => {
    stopping = true;
    for (const timer of timers) clearInterval(timer);
    const exits = [...children.values()].map(({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      return exited.finally(() => clearTimeout(timer));
    });
    await Promise.all(exits);
  };
  const timers = [];
  try {
    await Promise.all([...children].map(([name, { child, logFile, address }]) => waitReady(name, address, child, logFile)));
  } catch (err) {
    await stop();
    throw err;
  }
  log(`${routes.length} functions ready`);
  for (const route of routes) {
    if (!route.schedule) continue;
    let busy = false;
    timers.push(setInterval(() => {
      if (busy || stopping) return;
      busy = true;
      // OpenFaaS's cron-connector and Knative's PingSource POST to the function's root.
      fetch(`http://${addresses[route.name]}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
        .then(async (res) => { if (res.status !== 200 && !stopping) log(`scheduled ${route.name}: ${res.status} ${(await res.text()).slice(0, 200)}`); })
        .catch((err) => { if (!stopping) log(`scheduled ${route.name} failed: ${err.message}`); })
        .finally(() => { busy = false; });
    }, route.schedule.everySeconds * 1000));
  }
  return { addresses, stop, onCrash: (listener) => crashListeners.push(listener) };
}
