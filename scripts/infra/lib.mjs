// Shared by up.mjs, down.mjs, kube.mjs and nginx.mjs: where state lives, and how to stop what a
// state record lists without hitting an unrelated process that reused a pid.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_STATE_DIR = path.join(REPO_ROOT, '.mlp', 'infra');

export const log = (msg) => process.stderr.write(`infra: ${msg}\n`);
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Alive = exists and is not a zombie. A zombie still answers kill(pid, 0), and
// in a container whose PID 1 does not reap, detached servers end up as zombies.
export function isAlive(pid) {
  if (!pid) return false;
  let stat;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'ESRCH') return false;
    throw err;
  }
  // Field 3 (state) comes after "(comm)", and comm may itself contain spaces or ")".
  return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

// Only signal a pid whose command line still contains what we started
// (e.g. "kafka.Kafka"), so a stale state file cannot kill someone else's process.
function isOurs(proc) {
  if (!isAlive(proc.pid)) return false;
  try {
    return fs.readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').includes(proc.match);
  } catch (err) {
    if (err.code === 'ENOENT') return false;
    throw err;
  }
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if (err.code !== 'ESRCH') throw err; // ESRCH: it exited meanwhile, which is what we want
  }
}

// SIGTERM everything, wait up to graceMs, then SIGKILL what is left.
export async function stopProcesses(procs, { graceMs = 5000 } = {}) {
  const ours = procs.filter(isOurs);
  for (const p of ours) signal(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (ours.some((p) => isAlive(p.pid)) && Date.now() < deadline) await sleep(100);
  for (const p of ours) {
    if (isAlive(p.pid)) {
      log(`${p.name} (pid ${p.pid}) ignored SIGTERM for ${graceMs} ms; sending SIGKILL`);
      signal(p.pid, 'SIGKILL');
    }
  }
  const killDeadline = Date.now() + 5000;
  while (ours.some((p) => isAlive(p.pid)) && Date.now() < killDeadline) await sleep(50);
  return ours.length;
}

// Synchronous variant for process 'exit' handlers, where nothing can be awaited.
export function killProcessesSync(procs) {
  for (const p of procs) if (isOurs(p)) signal(p.pid, 'SIGKILL');
}

export function removeDirs(dirs) {
  for (const dir of dirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      log(`could not remove ${dir}: ${err.message}`); // reported, not fatal: it is a temp dir
    }
  }
}

export function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw new Error(`cannot read ${file}: ${err.message}`);
  }
}

export function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  fs.renameSync(`${file}.tmp`, file); // atomic: down.mjs never sees half a file
}

// Stop every process a state record lists and remove its temp data dirs.
export async function stopRecord(record) {
  // Last started first, one at a time: a later server may depend on an earlier one (kube-apiserver
  // on kine hangs in its graceful shutdown if its storage goes first).
  let n = 0;
  for (const proc of [...(record.processes ?? [])].reverse()) n += await stopProcesses([proc]);
  removeDirs(record.dataDirs ?? []);
  return n;
}

/**
 * Library mode: never leave a run's servers behind, whatever way this process ends (exit,
 * SIGINT, SIGTERM, SIGHUP). Answers the run's stop(), which also removes the handlers, and
 * release(), which only removes them (a CLI whose servers are meant to outlive it).
 */
export function guardRun(record, save) {
  let stopped = false;
  const finish = () => {
    record.stopped = new Date().toISOString();
    save();
  };
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    unregister();
    await stopRecord(record);
    finish();
  };
  const onExit = () => {
    if (stopped) return;
    killProcessesSync(record.processes);
    removeDirs(record.dataDirs);
    finish();
  };
  const onSignal = async (sig) => {
    await stop();
    // Re-raise so the process ends as it would have without us, unless someone else handles it.
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const unregister = () => {
    process.off('exit', onExit);
    for (const s of signals) process.off(s, onSignal);
  };
  process.on('exit', onExit);
  for (const s of signals) process.on(s, onSignal);
  return { stop, release: unregister };
}

// Runs started as a library record their owner (the test runner's pid). If the
// owner died without cleaning up (SIGKILL, crash), its servers are orphans.
export async function reapOrphans(stateDir = DEFAULT_STATE_DIR) {
  const runsDir = path.join(stateDir, 'runs');
  if (!fs.existsSync(runsDir)) return 0;
  let reaped = 0;
  for (const name of fs.readdirSync(runsDir)) {
    const file = path.join(runsDir, name, 'state.json');
    const record = readJson(file);
    if (!record || record.stopped || !record.owner || isAlive(record.owner)) continue;
    const n = await stopRecord(record);
    if (n) log(`stopped ${n} server process(es) left by dead process ${record.owner} (run ${record.runId})`);
    reaped += n;
    writeJson(file, { ...record, stopped: new Date().toISOString() });
  }
  return reaped;
}

// Keep the logs of the last few runs for diagnosis; delete older finished runs.
export function pruneRuns(stateDir = DEFAULT_STATE_DIR, keep = 8) {
  const runsDir = path.join(stateDir, 'runs');
  if (!fs.existsSync(runsDir)) return;
  const finished = fs
    .readdirSync(runsDir)
    .filter((name) => {
      const record = readJson(path.join(runsDir, name, 'state.json'));
      return !record || !(record.processes ?? []).some((p) => isAlive(p.pid));
    })
    .sort(); // run ids start with a timestamp, so this is oldest first
  removeDirs(finished.slice(0, Math.max(0, finished.length - keep)).map((n) => path.join(runsDir, n)));
}

// Bind port 0 for each port at once (so they differ), then release them.
export async function freePorts(n) {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((resolve, reject) => {
          const s = net.createServer();
          s.on('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/**
 * Listens on these loopback ports and holds them until release(), so that processes started
 * meanwhile and given a free port by the kernel (listen on port 0) cannot be given one of them.
 * Throws, naming the port, when one is already taken.
 */
export async function holdPorts(ports) {
  const servers = [];
  try {
    for (const port of ports) {
      servers.push(
        await new Promise((resolve, reject) => {
          const s = net.createServer();
          s.once('error', (err) => reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} is already in use`) : err));
          s.listen(port, '127.0.0.1', () => resolve(s));
        }),
      );
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    throw err;
  }
  return { release: () => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))) };
}

// Build tools' output is kept and shown only if they fail (Debian's Maven 3.8
// prints stray colour escapes even with -q -B).
export function runQuiet(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    const keep = (chunk) => {
      out = (out + chunk).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code, sig) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (${sig ?? `exit ${code}`}):\n${out.trimEnd().split('\n').slice(-40).join('\n')}`))));
  });
}

/** The last lines of a server's log file, framed, for an error message. */
export function tail(file, lines = 40) {
  if (!fs.existsSync(file)) return '(no log file)';
  const text = fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  return `--- last lines of ${file} ---\n${text}\n---`;
}

/**
 * One run of servers (infra:up's or kube's): its folder under `stateDir`/runs with a state.json
 * record of every process started (so a later run can reap them after a crash), a temporary data
 * folder, and `startServer`, which starts a server with its output in the run's `<name>.log`.
 * `detached`: the servers get their own session and outlive this process (the CLI's mode).
 */
export function newRun({ stateDir, detached, dataPrefix }) {
  const runId = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${process.pid}`;
  const runDir = path.join(stateDir, 'runs', runId);
  fs.mkdirSync(runDir, { recursive: true });
  const dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), dataPrefix));
  const record = {
    runId,
    owner: detached ? null : process.pid,
    started: new Date().toISOString(),
    env: {},
    processes: [],
    dataDirs: [dataRoot],
    logs: {},
  };
  const stateFile = path.join(runDir, 'state.json');
  const save = () => writeJson(stateFile, record);
  save();
  const children = [];
  /** `match`: what the process's command line holds, checked before a later run reaps its pid. */
  const startServer = (name, cmd, args, match = cmd) => {
    const logFile = path.join(runDir, `${name}.log`);
    const fd = fs.openSync(logFile, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached });
    fs.closeSync(fd); // the child has its own copy
    child.on('error', (err) => fs.appendFileSync(logFile, `\nspawn error: ${err.message}\n`));
    if (!child.pid) throw new Error(`could not start ${cmd}\n${tail(logFile)}`);
    const proc = { name, pid: child.pid, match };
    record.processes.push(proc);
    record.logs[name] = logFile;
    save();
    children.push(child);
    return { proc, logFile };
  };
  return { runId, runDir, dataRoot, record, save, children, startServer };
}
