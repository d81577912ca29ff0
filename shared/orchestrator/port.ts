import type { Runtime } from '../runtimes/catalog.js';

/**
 * The Orchestrator port: runs a job's script or an app's server and reports how it goes.
 * Kubernetes runs a pod; the local default runs a child process. Jobs and apps managers
 * build the command and environment; the orchestrator only runs, stops and watches.
 */
export interface Workload {
  /** Unique and stable (the job's or app's internal id): names the pod or process. */
  id: string;
  kind: 'job' | 'app';
  /** user and name, for labels and logs. */
  labels: Record<string, string>;
  /** The program and its arguments, e.g. ['node', 'train.mjs']. */
  command: string[];
  workdir: string;
  env: Record<string, string>;
  /** stdout and stderr are appended here. */
  logFile: string;
  /** A job's runtime: on Kubernetes it picks the job's image (default tf). */
  runtime?: Runtime;
  /** cpu in cores, ram in Mi: limits on Kubernetes; advisory for child processes. */
  resources: { cpu: number; gpu: number; ram: number };
  /**
   * A server (an app): the port it listens on and the path that answers 200 once it can serve.
   * Kubernetes makes it the readiness probe; the local adapter polls it. `socketEnv`: the variable
   * through which the orchestrator may name a Unix socket to listen on instead of the port — the
   * local adapter does so for a sandboxed server, which has a network of its own (no port of the
   * host): the socket, in a folder only the platform reaches, is its only way in.
   */
  health?: { port: number; path: string; socketEnv?: string };
  /**
   * Runs it confined (jobs: someone else's code; docs/security.md, tenants are hostile to each other):
   * its own user id, no view of the platform's processes, and of the filesystem only the system's
   * programs and these paths, each at its own path. Locally bubblewrap (orchestrator/sandbox.ts),
   * unless the operator set MLP_JOB_SANDBOX=off; on Kubernetes, the pod's only volumes.
   */
  sandbox?: WorkloadSandbox;
}

export interface WorkloadSandbox {
  /** Folders it may write (the job's workspace). */
  writable: string[];
  /** Files and folders it may read (its home and datasets, the runtime's files). */
  readOnly: string[];
  /** Folders whose other contents must not show (MLP_ROOT): empty and read-only but for the paths above. */
  hidden?: string[];
  /**
   * The host uid (and gid) its processes run as: one of its user's own, never root nor the
   * platform's (locally where the platform can map uids, i.e. runs as root). Its writable
   * folders, and what it reads, must be that uid's.
   */
  hostUid?: number;
}

export type Phase = 'pending' | 'running' | 'succeeded' | 'failed';

export interface WorkloadStatus {
  id: string;
  phase: Phase;
  exitCode?: number;
  /** Why it failed: an exit code, a signal, "stopped", a start error. */
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
  /** A server workload's health check answered 200 since it started (absent for jobs). */
  ready?: boolean;
  /** It was ended for passing a limit (its memory, its workspace's bytes); `reason` says which. */
  exceeded?: 'ram' | 'disk';
}

export interface Orchestrator {
  readonly kind: string;
  /** Starts the workload; starting a known id again answers its status and starts nothing. */
  start(w: Workload): Promise<WorkloadStatus>;
  /** Stops it (the whole process tree or pod), gracefully first; idempotent. Ends as failed, reason "stopped". */
  stop(id: string): Promise<void>;
  status(id: string): Promise<WorkloadStatus | null>;
  /** Drops a finished workload's record. */
  forget(id: string): Promise<void>;
  /**
   * Where the gateway reaches a server workload: 'host:port', or 'unix:/path/to/socket:' (nginx's
   * own form, for a server listening on a Unix socket; see health.socketEnv). upstream.ts reads both.
   */
  endpoint(id: string, port: number): string;
  /** Whether a server workload may listen on this port (locally: nothing else on the machine does). */
  portAvailable(port: number): Promise<boolean>;
  /** Every phase change (and a server's readiness), as it happens; returns the unsubscribe function. */
  watch(listener: (s: WorkloadStatus) => void): () => void;
  close(): Promise<void>;
}
