// The test kubelet stand-in: one pod's life on the node, as the kubelet lives it — run the
// container, restart it with back-off, probe its readiness, report status through pods/status,
// stop it gracefully on deletion. The stand-in replaces only the kubelet; the API is real.
import * as k8s from '@kubernetes/client-node';
import { mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { killContainer, logPath, signalContainer, startContainer, type ContainerPlan, type Started } from './container.js';
import { planPod, PodRefused, type ImageLayer, type PlanContext } from './plan.js';
import { IP, type Phase, podStatus } from './status.js';

export interface Timing {
  /** The kubelet's restart back-off: 10 s, doubled after each restart, capped at 5 min. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Caps on probe periods/initial delays and on termination grace (tests shorten these). */
  maxProbePeriodMs: number;
  maxGracePeriodMs: number;
}

export interface PodDeps {
  core: k8s.CoreV1Api;
  bwrap: string;
  stateDir: string;
  nodeName: string;
  claims: Record<string, string>;
  images: ImageLayer[];
  timing: Timing;
  log: (msg: string) => void;
}

const now = () => new Date();
const code = (err: unknown): number | undefined => (err as { code?: number }).code;

export class PodWorker {
  private phase: Phase = 'Pending';
  private run?: Started & { startedAt: Date; containerID: string; probe?: NodeJS.Timeout };
  private plan?: ContainerPlan;
  private restartCount = 0;
  private waiting?: { reason: string; message?: string };
  private terminated?: k8s.V1ContainerStateTerminated;
  private lastTerminated?: k8s.V1ContainerStateTerminated;
  private ready = false;
  private failure?: { reason: string; message: string };
  private startTime = now();
  private backoff?: NodeJS.Timeout;
  private ending = false;
  private statusChain: Promise<void> = Promise.resolve();
  private readonly transitions = new Map<string, { status: string; at: Date }>();
  readonly uid: string;

  constructor(
    public pod: k8s.V1Pod,
    private readonly d: PodDeps,
  ) {
    this.uid = pod.metadata?.uid ?? '';
  }

  private get ns() {
    return this.pod.metadata?.namespace ?? 'default';
  }
  private get name() {
    return this.pod.metadata?.name ?? '';
  }
  private get container() {
    return this.pod.spec?.containers?.[0];
  }
  private get podDir() {
    return path.join(this.d.stateDir, 'pods', `${this.ns}_${this.name}_${this.uid}`);
  }
  private get label() {
    return `${this.ns}/${this.name}`;
  }

  /** Plan and start the container; a pod it cannot run ends Failed with the reason. */
  async start(): Promise<void> {
    const ctx: PlanContext = { core: this.d.core, claims: this.d.claims, images: this.d.images, emptyDirRoot: path.join(this.podDir, 'volumes'), nodeName: this.d.nodeName };
    try {
      this.plan = await planPod(ctx, this.pod);
    } catch (err) {
      if (!(err instanceof PodRefused)) throw err;
      this.d.log(`${this.label}: refused: ${err.reason}: ${err.message}`);
      this.phase = 'Failed';
      this.failure = { reason: err.reason, message: err.message };
      this.waiting = { reason: err.reason, message: err.message };
      await this.report();
      return;
    }
    if (this.ending) return;
    this.launch();
  }

  /** Marks a pod this node has no process for as Failed (the stand-in restarted since it ran). */
  async orphaned(message: string): Promise<void> {
    this.phase = 'Failed';
    this.failure = { reason: 'StandinKubeletRestarted', message };
    this.terminated = { exitCode: 137, reason: 'Error', message, finishedAt: now() };
    await this.report();
  }

  private launch(): void {
    const c = this.container!;
    const logFile = logPath(this.d.stateDir, { namespace: this.ns, name: this.name, uid: this.uid }, c.name, this.restartCount);
    mkdirSync(path.dirname(logFile), { recursive: true });
    const started = startContainer(this.d.bwrap, this.plan!, logFile);
    this.run = { ...started, startedAt: now(), containerID: `standin://${this.uid}/${this.restartCount}` };
    this.d.log(`${this.label}: started ${this.plan!.argv[0]} (pid ${started.pgid}, restart ${this.restartCount})`);
    this.phase = 'Running';
    this.waiting = undefined;
    this.terminated = undefined;
    this.ready = !c.readinessProbe;
    void this.report();
    this.startProbe(c);
    const run = this.run;
    void started.exited.then((e) => this.onExit(run, e.code, e.signal));
  }

  private onExit(run: NonNullable<PodWorker['run']>, exit: number | null, signal: NodeJS.Signals | null): void {
    clearTimeout(run.probe);
    if (this.run !== run) return;
    this.run = undefined;
    this.ready = false;
    // bwrap reports a command killed by signal N as 128+N, as a container runtime does.
    const exitCode = exit ?? 128 + (signal ? os.constants.signals[signal] : 9);
    const term: k8s.V1ContainerStateTerminated = {
      exitCode,
      reason: exitCode === 0 ? 'Completed' : 'Error',
      startedAt: run.startedAt,
      finishedAt: now(),
      containerID: run.containerID,
    };
    this.d.log(`${this.label}: container exited ${exitCode}`);
    if (this.ending) {
      this.terminated = term;
      return;
    }
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    if (policy === 'Never' || (policy === 'OnFailure' && exitCode === 0)) {
      this.terminated = term;
      this.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
      void this.report();
      return;
    }
    // Restart after the kubelet's back-off, reporting CrashLoopBackOff meanwhile.
    this.lastTerminated = term;
    const delay = Math.min(this.d.timing.backoffMs * 2 ** this.restartCount, this.d.timing.maxBackoffMs);
    this.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${this.container!.name} pod=${this.name}_${this.ns}(${this.uid})` };
    void this.report();
    this.backoff = setTimeout(() => {
      this.backoff = undefined;
      if (this.ending) return;
      this.restartCount++;
      this.launch();
    }, delay);
  }

  private startProbe(c: k8s.V1Container): void {
    const p = c.readinessProbe;
    if (!p) return;
    if (!p.httpGet) {
      this.d.log(`${this.label}: only httpGet readiness probes are run; the container counts as ready`);
      this.ready = true;
      return;
    }
    const cap = this.d.timing.maxProbePeriodMs;
    const period = Math.min((p.periodSeconds ?? 10) * 1000, cap);
    const initial = Math.min((p.initialDelaySeconds ?? 0) * 1000, cap);
    const failureThreshold = p.failureThreshold ?? 3;
    const successThreshold = p.successThreshold ?? 1;
    const run = this.run!;
    let ok = 0;
    let bad = 0;
    const tick = async () => {
      const good = await this.probeOnce(c, p.httpGet!, (p.timeoutSeconds ?? 1) * 1000);
      if (this.run !== run) return;
      ok = good ? ok + 1 : 0;
      bad = good ? 0 : bad + 1;
      const ready = this.ready ? bad < failureThreshold : ok >= successThreshold;
      if (ready !== this.ready) {
        this.ready = ready;
        this.d.log(`${this.label}: ${ready ? 'ready' : 'not ready'}`);
        void this.report();
      }
      run.probe = setTimeout(() => void tick(), period);
    };
    run.probe = setTimeout(() => void tick(), initial);
  }

  private probeOnce(c: k8s.V1Container, g: k8s.V1HTTPGetAction, timeoutMs: number): Promise<boolean> {
    const port = typeof g.port === 'number' ? g.port : Number(c.ports?.find((cp) => cp.name === g.port)?.containerPort ?? g.port);
    return new Promise((resolve) => {
      const req = http.get({ host: g.host ?? IP, port, path: g.path ?? '/', timeout: timeoutMs, headers: Object.fromEntries((g.httpHeaders ?? []).map((h) => [h.name, h.value])) }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(false));
    });
  }

  /**
   * Deletion with a grace period: SIGTERM the container's processes, SIGKILL after the grace,
   * then finish the deletion with gracePeriodSeconds 0, as the kubelet does.
   */
  async terminate(): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    clearTimeout(this.backoff);
    const run = this.run;
    if (run) {
      const graceS = this.pod.metadata?.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
      const graceMs = Math.min(graceS * 1000, this.d.timing.maxGracePeriodMs);
      this.d.log(`${this.label}: deleting; SIGTERM, SIGKILL after ${graceMs} ms`);
      signalContainer(run.pgid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          killContainer(run.pgid);
          resolve();
        }, graceMs);
      });
      await Promise.race([run.exited, killed]);
      clearTimeout(timer);
      await run.exited;
    }
    if (this.terminated) {
      // As the kubelet does since 1.27: a deleted pod reaches a terminal phase before its deletion
      // is finished; a finalizer (the orchestrator's mlp/stopped) keeps the object, which then says so.
      this.phase = this.terminated.exitCode === 0 ? 'Succeeded' : 'Failed';
      try {
        await this.patchStatus(true);
      } catch (err) {
        if (code(err) !== 404 && code(err) !== 409) throw err;
      }
    }
    try {
      await this.d.core.deleteNamespacedPod({ name: this.name, namespace: this.ns, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0, preconditions: { uid: this.uid } } });
    } catch (err) {
      if (code(err) !== 404 && code(err) !== 409) throw err; // gone already, or a new pod of the same name
    }
    this.cleanup();
  }

  /** The pod is gone from the API (deleted outright, or the stand-in stops): kill at once. */
  async kill(): Promise<void> {
    this.ending = true;
    clearTimeout(this.backoff);
    const run = this.run;
    if (run) {
      clearTimeout(run.probe);
      killContainer(run.pgid);
      await run.exited;
    }
  }

  /** The pod's folder (logs, emptyDirs) goes with the pod, as the kubelet removes it. */
  cleanup(): void {
    rmSync(this.podDir, { recursive: true, force: true });
  }

  /** Status writes go one after another, each with the whole status as it is now. */
  private report(): Promise<void> {
    this.statusChain = this.statusChain
      .then(() => this.patchStatus())
      .catch((err: unknown) => {
        if (code(err) !== 404) this.d.log(`${this.label}: status update failed: ${(err as Error).message}`);
      });
    return this.statusChain;
  }

  private async patchStatus(final = false): Promise<void> {
    if (this.ending && !final) return; // being deleted: only its final status still matters
    const status = this.status();
    await this.d.core.patchNamespacedPodStatus({ name: this.name, namespace: this.ns, body: { status } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  }

  private status(): k8s.V1PodStatus {
    const { phase, run, restartCount, waiting, terminated, lastTerminated, ready, failure, startTime } = this;
    return podStatus(this.container, { phase, run, restartCount, waiting, terminated, lastTerminated, ready, failure, startTime }, this.transitions);
  }
}
