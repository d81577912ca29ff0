import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { Orchestrator, Workload, WorkloadStatus } from './port.js';
import { findWrapper, processStartTime, recordStore, stillRuns, WRAPPER } from './local-record.js';
import { hostPort, insideApi, startApiBridge, writeHosts, type ApiBridge } from './api-bridge.js';
import { openCgroup, type WorkloadCgroup } from './cgroups.js';
import { answers200, canListen, prepareServeSocket, serveSocketPath, sweepServeSockets } from './local-serve.js';
import { closeUserns, jobUserns } from './userns.js';
import { cgroupLimits, describeLimits, limitedCommand, workspaceBytes, type JobLimits } from './local-limits.js';
import { bwrapArgs, bwrapCommand, describeSandbox, groupMembers, sandboxSupport, type SandboxNetwork, type SandboxSupport } from './sandbox.js';

interface Running {
  kind: Workload['kind'];
  child?: ChildProcess;
  /** The wrapper's pid (the group's leader) and start time, once it runs. */
  pid?: number;
  startTime?: string;
  /** Not this process's child: a job started before the platform restarted, followed by polling. */
  adopted: boolean;
  status: WorkloadStatus;
  exited: Promise<void>;
  resolveExit: () => void;
  stopping: boolean;
  /** Runs inside bwrap (bwrap and its reaper are in the group; the job's processes below them). */
  sandboxed: boolean;
  /** Its cgroup (limited jobs), and what it asked for, to say why it was ended. */
  cgroup?: Promise<WorkloadCgroup>;
  ram?: number;
  /** The workspace and its bound in bytes (limited jobs). */
  disk?: { dir: string; bytes: number };
  /** A limit it passed: why it was ended. */
  exceeded?: { kind: 'ram' | 'disk'; msg: string };
  /** A sandboxed server's Unix socket (local-serve.ts): where it is reached instead of its port. */
  socket?: string;
}

/**
 * The local default: each workload a child process in its own process group, so stopping it
 * stops everything it started; resources are not enforced here (Kubernetes enforces them as pod
 * limits). Every workload runs under a small wrapper (local-record.ts WRAPPER) that writes its exit
 * code to a file, and its pid and start time are recorded in `stateDir`: a job outlives the
 * platform (neither close() nor a crash ends it; bwrap's --die-with-parent ties the sandbox to the
 * wrapper, not to the platform) and an orchestrator opened later on the same `stateDir` adopts it
 * — its log was always written by the job itself — and reports its real exit code. Apps' model
 * servers are platform code: close() stops them, and one left by a crashed platform is killed at
 * the next start (the app watcher starts it afresh, as it does after any restart). Without a
 * `stateDir` nothing is durable: close() stops every workload.
 *
 * A workload with a `sandbox` (every job) runs inside bubblewrap (sandbox.ts): `sandbox` says
 * how, from MLP_JOB_SANDBOX; unset, bwrap is probed on first use. Where the sandbox cannot be
 * had, such workloads are refused (they fail at once, saying why); only the operator's
 * MLP_JOB_SANDBOX=off runs them unconfined. Workloads without one (apps' model servers, which
 * are platform code) run as plain child processes.
 */
export function createLocalOrchestrator(opts: {
  log: Logger;
  now?: () => Date;
  graceMs?: number;
  sandbox?: SandboxSupport;
  stateDir?: string;
  api?: () => string | undefined;
  limits?: JobLimits;
}): Orchestrator {
  const now = () => (opts.now ?? (() => new Date()))().toISOString();
  const graceMs = opts.graceMs ?? 5000;
  const durable = opts.stateDir !== undefined;
  const records = recordStore(opts.stateDir ?? mkdtempSync(path.join(tmpdir(), 'mlp-orch-state-')));
  let support: Promise<SandboxSupport> | undefined = opts.sandbox ? Promise.resolve(opts.sandbox) : undefined;
  // Sandboxed workloads reach the API only through this bridge (api-bridge.ts); made on first use,
  // or at once when jobs of an earlier platform may be adopted below.
  let lastApi: string | undefined;
  let bridge: Promise<ApiBridge> | undefined;
  const openBridge = () => (bridge ??= startApiBridge({ dir: path.join(records.dir, 'api'), target: () => opts.api?.() ?? lastApi, log: opts.log }));
  const workloads = new Map<string, Running>();
  // Sandboxed servers' sockets, by id, for as long as this process runs: a server that failed and
  // was forgotten until the app watcher starts it again is still named there (a connection is
  // refused meanwhile; a port could be taken by anyone). A socket stays until its server starts
  // again (local-serve.ts); folders no server listens in are swept when the platform starts.
  const sockets = new Map<string, string>();
  if (durable) sweepServeSockets(records.dir, (id) => sockets.has(id)).catch((err: unknown) => opts.log.error("could not sweep the servers' old sockets", { err: (err as Error).message }));
  const listeners = new Set<(s: WorkloadStatus) => void>();
  const emit = (s: WorkloadStatus) => {
    for (const l of listeners) {
      try {
        l({ ...s });
      } catch (err) {
        opts.log.error('orchestrator listener failed', { id: s.id, err: (err as Error).message });
      }
    }
  };

  const newEntry = (id: string, kind: Workload['kind'], sandboxed: boolean, adopted: boolean): Running => {
    let resolveExit: () => void = () => undefined;
    const exited = new Promise<void>((r) => (resolveExit = r));
    return { kind, adopted, status: { id, phase: 'pending' }, exited, resolveExit, stopping: false, sandboxed };
  };
  const ended = (e: Running) => e.status.phase === 'succeeded' || e.status.phase === 'failed';
  const running = (e: Running) => e.pid !== undefined && e.startTime !== undefined && stillRuns({ pid: e.pid, startTime: e.startTime });

  /** The workload's wrapper ended with `code` (null: it was killed, or left no exit status). */
  const finish = (entry: Running, code: number | null, signal: string | null, lost?: string) => {
    if (ended(entry)) return;
    // A job killed by a signal reads 128 + its number (from the wrapper's shell, or from bwrap).
    const killedInside = code !== null && code > 128 ? signalName(code - 128) : undefined;
    const failedBy = entry.exceeded ? entry.exceeded.msg : entry.stopping ? 'stopped' : lost ? lost : signal ? `killed by ${signal}` : killedInside ? `killed by ${killedInside}` : `exit code ${code}`;
    const ok = code === 0 && !entry.stopping && !entry.exceeded;
    entry.status = {
      ...entry.status,
      phase: ok ? 'succeeded' : 'failed',
      ...(code !== null ? { exitCode: code } : {}),
      ...(ok ? {} : { reason: failedBy }),
      ...(entry.exceeded && !ok ? { exceeded: entry.exceeded.kind } : {}),
      ...(entry.status.ready !== undefined ? { ready: false } : {}),
      finishedAt: now(),
    };
    // Whatever the workload left running in its group ends with it.
    if (entry.pid && !entry.adopted) signalGroup(entry.pid, 'SIGKILL');
    emit(entry.status);
    entry.resolveExit();
    if (entry.cgroup) void dropCgroup(entry.cgroup, entry.status.id);
  };

  /** The workload ended: was it for memory (its cgroup saw an OOM kill)? Then finish. */
  const settle = (entry: Running, code: number | null, signal: NodeJS.Signals | null, lost?: string) => {
    if (!entry.cgroup || code === 0 || ended(entry)) return finish(entry, code, signal, lost);
    const died = signal ?? (code !== null && code > 128 ? (signalName(code - 128) ?? null) : null);
    entry.cgroup
      .then((cg) => cg.oomKilled({ signal: died }))
      .then(
        (oom) => {
          if (oom && !entry.exceeded) entry.exceeded = { kind: 'ram', msg: `out of memory (ram ${entry.ram ?? '?'} Mi)` };
        },
        (err: unknown) => opts.log.error("could not read a job's cgroup after it ended", { id: entry.status.id, err: (err as Error).message }),
      )
      .finally(() => finish(entry, code, signal, lost));
  };

  // A server started again under its id (an app's restart) waits until its last cgroup is gone.
  const dropping = new Map<string, Promise<void>>();
  const dropCgroup = (cgroup: Promise<WorkloadCgroup>, id: string): Promise<void> => {
    const done = (async () => {
      try {
        const cg = await cgroup;
        await cg.killAll();
        await cg.remove();
      } catch (err) {
        opts.log.error("could not remove a workload's cgroup", { id, err: (err as Error).message });
      }
    })();
    const tracked = done.finally(() => {
      if (dropping.get(id) === tracked) dropping.delete(id);
    });
    dropping.set(id, tracked);
    return tracked;
  };

  const launch = (w: Workload, sandbox: SandboxSupport | undefined, api: ApiBridge | undefined, limited: Limited | undefined, usernsFd: number | undefined): Running => {
    const sandboxed = sandbox?.mode === 'on';
    const entry = newEntry(w.id, w.kind, sandboxed, false);
    if (limited && 'cgroup' in limited) {
      entry.cgroup = Promise.resolve(limited.cgroup);
      entry.ram = w.resources.ram;
      // A job's workspace is watched; a server writes nothing but its private /tmp (bounded by its ram).
      if (w.kind === 'job') entry.disk = { dir: w.workdir, bytes: limited.disk };
    }
    const fail = (reason: string) => {
      entry.status = { ...entry.status, phase: 'failed', reason, finishedAt: now() };
      queueMicrotask(() => {
        emit(entry.status); // once start() has recorded it, as a spawn error would be
        entry.resolveExit();
      });
      return entry;
    };
    // Never run someone else's code unconfined unless the operator said so.
    if (sandbox?.mode === 'unavailable') return fail(`not run: ${describeSandbox(sandbox)}`);
    if (limited && 'refused' in limited) return fail(`not run: ${limited.refused}`);
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...w.env };
    // The wrapper would only report 127: say here what cannot start.
    const missing = w.command[0] === undefined ? 'no command' : findProgram(w.command[0], env.PATH ?? '');
    if (typeof missing === 'string') return fail(`could not start ${w.command[0] ?? ''}: ${missing}`);
    // A sandboxed server listens on a Unix socket the platform alone reaches (its network has no port of the host's).
    let box = w.sandbox;
    if (sandboxed && box && w.health?.socketEnv) {
      const socket = serveSocketPath(records.dir, w.id);
      try {
        prepareServeSocket(socket, usernsFd !== undefined ? box.hostUid : undefined);
      } catch (err) {
        return fail(`could not prepare the server's socket: ${(err as Error).message}`);
      }
      entry.socket = socket;
      sockets.set(w.id, socket);
      env[w.health.socketEnv] = socket;
      box = { ...box, writable: [...box.writable, path.dirname(socket)] };
    }
    const network = sandboxed && box ? sandboxNetwork(w, api) : 'none';
    if (network !== 'none' && env.MLP_API) env.MLP_API = insideApi(env.MLP_API).url;
    mkdirSync(w.workdir, { recursive: true });
    mkdirSync(path.dirname(w.logFile), { recursive: true });
    records.clearExit(w.id);
    // Noted before the spawn, so a platform that dies right after it still finds the process (findWrapper).
    const limits = entry.disk ? { cpu: w.resources.cpu, ram: w.resources.ram, disk: entry.disk } : undefined;
    records.write({ id: w.id, kind: w.kind, pid: 0, startTime: '', startedAt: now(), sandboxed, ...(limits ? { limits } : {}) });
    const log = openSync(w.logFile, 'a');
    const confined =
      sandbox?.mode === 'on' && box
        ? bwrapCommand(
            sandbox.bwrap,
            bwrapArgs({ command: w.command, workdir: w.workdir, sandbox: box, tmpBytes: w.resources.ram * 1024 * 1024, network, ...(usernsFd !== undefined ? { usernsFd: USERNS_FD } : {}) }, sandbox),
          )
        : w.command;
    const command = limited && 'cgroup' in limited ? limitedCommand(limited.cgroup, { nofile: limited.nofile, disk: limited.disk }, confined) : confined;
    let child: ChildProcess;
    try {
      // A minimal environment: the workload's own variables and a PATH, nothing of the platform's secrets.
      // Its own session and group (detached): a signal to the platform's group does not reach it.
      // (Its user namespace, when the platform made one, goes down to bwrap as fd USERNS_FD.)
      child = spawn('/bin/sh', ['-c', WRAPPER, 'mlp-workload', records.exitFile(w.id), ...command], {
        cwd: w.workdir,
        env,
        stdio: ['ignore', log, log, ...(usernsFd !== undefined ? [usernsFd] : [])],
        detached: true,
      });
    } finally {
      closeSync(log); // the child has its own copy
    }
    entry.child = child;
    if (child.pid) {
      entry.pid = child.pid;
      entry.startTime = processStartTime(child.pid);
      // Recorded at once: the platform may die any moment from now on, the job must not be lost with it.
      if (entry.startTime) records.write({ id: w.id, kind: w.kind, pid: child.pid, startTime: entry.startTime, startedAt: now(), sandboxed, ...(limits ? { limits } : {}) });
    }
    child.once('spawn', () => {
      entry.status = { ...entry.status, phase: 'running', startedAt: now(), ...(w.health ? { ready: false } : {}) };
      emit(entry.status);
      if (w.health) void pollHealth(entry, w.health);
    });
    child.once('error', (err) => {
      // Spawning failed: there is no exit event to wait for.
      if (ended(entry)) return;
      entry.status = { ...entry.status, phase: 'failed', reason: `could not start ${w.command[0] ?? ''}: ${err.message}`, finishedAt: now() };
      emit(entry.status);
      entry.resolveExit();
    });
    child.once('exit', (code, signal) => settle(entry, code, signal));
    return entry;
  };

  // Jobs left by an earlier platform on this stateDir: adopted if their process still runs (the
  // same start time: a recycled pid is someone else), else ended by the exit code they recorded.
  for (const noted of durable ? records.all() : []) {
    const found = noted.pid === 0 ? findWrapper(records.exitFile(noted.id)) : undefined;
    if (noted.pid === 0 && !found) {
      records.remove(noted.id); // never started: to the platform, unknown (a job is launched again)
      continue;
    }
    const r = found ? { ...noted, ...found } : noted;
    if (found) records.write(r);
    if (r.sandboxed && r.kind === 'job')
      openBridge().catch((err: unknown) => opts.log.error("the jobs' API bridge could not start: adopted jobs cannot reach the API", { err: (err as Error).message }));
    if (r.kind === 'app') {
      if (stillRuns(r)) {
        opts.log.warn('stopping a model server left by an earlier platform process', { id: r.id, pid: r.pid });
        signalGroup(r.pid, 'SIGKILL');
      }
      const cgroups = opts.limits?.mode === 'on' && opts.limits.cgroups.mode !== 'unavailable' ? opts.limits.cgroups : undefined;
      if (cgroups) void dropCgroup(openCgroup(cgroups, r.id, cgroupLimits({ cpu: 1, ram: 100 }, 1)), r.id);
      records.remove(r.id);
      continue;
    }
    const entry = newEntry(r.id, r.kind, r.sandboxed, true);
    entry.status = { id: r.id, phase: 'running', startedAt: r.startedAt };
    workloads.set(r.id, entry);
    const cgroups = opts.limits?.mode === 'on' ? opts.limits.cgroups : undefined;
    if (r.limits && cgroups && cgroups.mode !== 'unavailable' && opts.limits?.mode === 'on') {
      // The same cgroup again (its limits unchanged), for the OOM check and the clean-up.
      entry.cgroup = openCgroup(cgroups, r.id, cgroupLimits(r.limits, opts.limits.pids));
      entry.cgroup.catch((err: unknown) => opts.log.error("could not open an adopted job's cgroup", { id: r.id, err: (err as Error).message }));
      entry.ram = r.limits.ram;
      entry.disk = r.limits.disk;
    }
    if (stillRuns(r)) {
      entry.pid = r.pid;
      entry.startTime = r.startTime;
      opts.log.info('adopted a job started before the platform restarted', { id: r.id, pid: r.pid });
    } else {
      const code = records.exitCode(r.id);
      settle(entry, code ?? null, null, code === undefined ? 'lost: its process ended while the platform was down and recorded no exit status' : undefined);
    }
  }
  // Adopted jobs are not this process's children: no exit event, so they are polled.
  const poll = setInterval(() => {
    for (const entry of workloads.values()) {
      if (!entry.adopted || ended(entry) || running(entry)) continue;
      const code = records.exitCode(entry.status.id);
      settle(entry, code ?? null, null, code === undefined ? 'lost: its process ended and recorded no exit status' : undefined);
    }
  }, ADOPTED_POLL_MS);
  poll.unref();

  // A server is ready once its health path answers 200 (what a readiness probe does on Kubernetes).
  const pollHealth = async (entry: Running, health: NonNullable<Workload['health']>) => {
    while (entry.status.phase === 'running' && !entry.stopping) {
      if (await answers200(entry.socket ? { socketPath: entry.socket } : { port: health.port }, health.path)) {
        if (entry.status.phase !== 'running') return;
        entry.status = { ...entry.status, ready: true };
        emit(entry.status);
        return;
      }
      await new Promise((r) => setTimeout(r, HEALTH_POLL_MS));
    }
  };

  /** A job's cgroup (made now), or why it may not run; undefined when limits are off. */
  const limitsFor = async (w: Workload): Promise<Limited | undefined> => {
    const l = opts.limits;
    if (!l || l.mode === 'off') return undefined;
    if (l.cgroups.mode === 'unavailable') return { refused: describeLimits(l) };
    await dropping.get(w.id);
    return { cgroup: await openCgroup(l.cgroups, w.id, cgroupLimits(w.resources, l.pids)), disk: l.disk, nofile: l.nofile };
  };

  // Workspaces are measured every DISK_POLL_MS; one past its bound is stopped (no file may pass
  // it at all: RLIMIT_FSIZE). One pass at a time.
  let measuring = false;
  const diskWatch = setInterval(() => {
    if (measuring) return;
    measuring = true;
    void (async () => {
      for (const [id, entry] of workloads) {
        if (!entry.disk || ended(entry) || entry.stopping) continue;
        const bytes = await workspaceBytes(entry.disk.dir);
        if (bytes <= entry.disk.bytes || ended(entry)) continue;
        entry.exceeded = { kind: 'disk', msg: `workspace over ${entry.disk.bytes} bytes` };
        opts.log.warn('stopping a job whose workspace passed its bound', { id, bytes, bound: entry.disk.bytes });
        await stop(id);
      }
    })()
      .catch((err: unknown) => opts.log.error("measuring the jobs' workspaces failed", { err: (err as Error).message }))
      .finally(() => (measuring = false));
  }, DISK_POLL_MS);
  diskWatch.unref();

  const stop = async (id: string) => {
    const entry = workloads.get(id);
    if (!entry || ended(entry)) return;
    entry.stopping = true;
    // Gracefully first: the workload's own processes (not the wrapper, which records the exit, nor bwrap).
    if (running(entry) && entry.pid) signalWorkload(entry.pid, 'SIGTERM', entry.sandboxed);
    const timer = setTimeout(() => {
      if (running(entry) && entry.pid) signalGroup(entry.pid, 'SIGKILL');
      // What left the group (a new session) is still in the cgroup.
      if (entry.cgroup) void entry.cgroup.then((cg) => cg.killAll()).catch((err: unknown) => opts.log.error("could not kill a job's cgroup", { id, err: (err as Error).message }));
    }, graceMs);
    await entry.exited;
    clearTimeout(timer);
  };

  return {
    kind: 'local',
    async start(w) {
      if (w.sandbox && !support) support = sandboxSupport('on');
      const sandbox = w.sandbox ? await support : undefined;
      if (sandbox?.mode === 'on' && w.env.MLP_API) lastApi = w.env.MLP_API;
      const api = sandbox?.mode === 'on' ? await openBridge() : undefined;
      if (api && w.env.MLP_API) writeHosts(api.dir, w.env.MLP_API);
      if (workloads.has(w.id)) return { ...(workloads.get(w.id) as Running).status };
      const limited = await limitsFor(w);
      // Its own host uid, where the platform can map one (as root): a namespace made for it.
      const usernsFd = sandbox?.mode === 'on' && sandbox.hostUids && w.sandbox?.hostUid !== undefined ? await jobUserns(sandbox.uid, w.sandbox.hostUid) : undefined;
      try {
        // From here on synchronous: two starts of one id cannot both launch.
        const known = workloads.get(w.id);
        if (known) return { ...known.status };
        const entry = launch(w, sandbox, api, limited, usernsFd);
        workloads.set(w.id, entry);
        return { ...entry.status };
      } finally {
        closeUserns(usernsFd); // the child has its own copy
      }
    },
    stop,
    endpoint: (id, port) => {
      const socket = sockets.get(id);
      return socket ? `unix:${socket}:` : `127.0.0.1:${port}`;
    },
    portAvailable: canListen,
    async status(id) {
      const entry = workloads.get(id);
      return entry ? { ...entry.status } : null;
    },
    async forget(id) {
      const entry = workloads.get(id);
      if (entry && !ended(entry)) await stop(id);
      workloads.delete(id);
      records.remove(id);
    },
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      clearInterval(poll);
      clearInterval(diskWatch);
      const leave = (e: Running) => durable && e.kind === 'job';
      await Promise.all([...workloads.entries()].filter(([, e]) => !leave(e)).map(([id]) => stop(id)));
      // Jobs go on without the platform; this process need not wait for them to exit.
      for (const e of workloads.values()) if (leave(e)) e.child?.unref();
      listeners.clear();
      if (bridge) await (await bridge).close();
      if (!durable) rmSync(records.dir, { recursive: true, force: true });
    },
  };
}

/** A sandboxed workload's network: its own namespace, with the API when its environment names one (as the workload calls it: insideApi). */
function sandboxNetwork(w: Workload, api: ApiBridge | undefined): SandboxNetwork | 'none' {
  if (!api || !w.env.MLP_API) return 'none';
  const { hostname } = hostPort(w.env.MLP_API);
  return { socketDir: api.dir, apiHost: hostname, apiPort: insideApi(w.env.MLP_API).port };
}

/** What a job runs under (its cgroup and disk bound), or why it may not run at all. */
type Limited = { cgroup: WorkloadCgroup; disk: number; nofile: number } | { refused: string };

/** The fd a workload's wrapper, and so bwrap, has its user namespace on. */
const USERNS_FD = 3;
const ADOPTED_POLL_MS = 250;
const DISK_POLL_MS = 1000;
const HEALTH_POLL_MS = 100;

function signalName(n: number): NodeJS.Signals | undefined {
  return (Object.entries(osConstants.signals) as [NodeJS.Signals, number][]).find(([, v]) => v === n)?.[0];
}

/**
 * A graceful signal to a workload: to its own processes, not to the wrapper (which must live to
 * record the exit code) nor to bwrap (whose death would end the sandbox at once); bwrap exits once
 * the job has, then the wrapper. Before the program runs (only the wrapper, or bwrap), the leader gets it.
 */
function signalWorkload(pgid: number, signal: NodeJS.Signals, sandboxed: boolean): void {
  const own = groupMembers(pgid).filter((pid) => pid !== pgid && !(sandboxed && commOf(pid) === 'bwrap'));
  if (own.length === 0) {
    signalGroup(pgid, signal);
    return;
  }
  for (const pid of own) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return ''; // ended meanwhile
  }
}

/** Undefined when `program` (a path, or a name looked up on PATH) can be run; else why not. */
function findProgram(program: string, pathVar: string): string | undefined {
  const candidates = program.includes('/')
    ? [program]
    : pathVar
        .split(':')
        .filter(Boolean)
        .map((d) => path.join(d, program));
  for (const file of candidates) {
    try {
      accessSync(file, fsConstants.X_OK);
      return undefined;
    } catch {
      // not here
    }
  }
  return program.includes('/') ? 'spawn ENOENT (no such executable file)' : `spawn ENOENT (not found on PATH)`;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
