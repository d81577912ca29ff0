import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../core/log.js';
import { insideApi, startApiBridge, writeHosts, type ApiBridge } from './api-bridge.js';
import { adoptLeftovers } from './local-adopt.js';
import { type Limited, limitsFor, sandboxNetwork, workloadCommand } from './local-command.js';
import { cgroupReaper, watchWorkspaces, type JobLimits } from './local-limits.js';
import { findProgram, signalGroup, signalName, signalWorkload } from './local-process.js';
import { processStartTime, recordStore, WRAPPER } from './local-record.js';
import { answers200, canListen, prepareServeSocket, serveSocketPath, sweepServeSockets } from './local-serve.js';
import { ended, newEntry, running, type Running } from './local-workload.js';
import type { Orchestrator, Workload, WorkloadStatus } from './port.js';
import { describeSandbox, sandboxSupport, type SandboxSupport } from './sandbox.js';
import { closeUserns, jobUserns } from './userns.js';

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
  const cgroupsGone = cgroupReaper(opts.log);
  const dropCgroup = cgroupsGone.drop;

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
    const command = workloadCommand(w, sandbox, box, network, limited, usernsFd);
    let child: ChildProcess;
    try {
      // A minimal environment: the workload's own variables and a PATH, nothing of the platform's secrets.
      // Its own session and group (detached): a signal to the platform's group does not reach it.
      // (Its user namespace, when the platform made one, goes down to bwrap as fd USERNS_FD, local-command.ts.)
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

  // Jobs left by an earlier platform on this stateDir are adopted, and followed by polling (local-adopt.ts).
  const poll = adoptLeftovers({ records, durable, workloads, log: opts.log, limits: opts.limits, openBridge, dropCgroup, settle });

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

  // Workspaces are measured, and one past its bound is stopped (local-limits.ts); `stop` is called once it is defined below.
  const diskWatch = watchWorkspaces(workloads, (id) => stop(id), opts.log);

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
      const limited = await limitsFor(opts.limits, cgroupsGone.settled, w);
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

const HEALTH_POLL_MS = 100;
