/**
 * The runtimes port: what the platform needs from the code that runs inside a job or an app, which
 * lives under templates/ (templates/runtime-tf implements JobRunner for JavaScript entries,
 * templates/model-server-tf implements ModelServer; templates/runtimes.ts assembles them). The
 * composition roots (templates/mlp-node20/index.ts, scripts/local/platform.ts) hand it to
 * createDeps as Deps.runtimes, so shared/ never imports templates/ (shared/wiring/layers.test.ts).
 * The templates implement it structurally, without importing this file: the model server's and the
 * runtimes' images and sandboxes hold templates/ and node_modules, not shared/.
 */

/** How a job's entry of one kind is run. */
export interface JobRunner {
  /** The argv that runs the entry (an absolute path). */
  command(entryFile: string): string[];
  /** What the entry's environment needs besides the platform's MLP_* variables. */
  env(): Record<string, string>;
  /**
   * The folders of the platform's own code and packages the process reads (the template's folder,
   * the node_modules it resolves from): a sandbox lets it read these (shared/runtimes/sandbox-files.ts).
   */
  reads(): string[];
}

/** What an app's model server is started with (the template's own options type says each field's meaning). */
export interface ModelServerArgs {
  modelDir: string;
  port: number;
  model: string;
  host?: string;
  ram?: number;
}

/** The model server of apps. */
export interface ModelServer {
  command(args: ModelServerArgs): string[];
  /** Answers 200 once the model is loaded: the health check of the orchestrator (Workload.health). */
  healthPath: string;
  /** The variable naming the Unix socket the server listens on instead of its port, in a sandbox of its own network. */
  socketEnv: string;
  /** The exit code of a server whose model can never be served: the app watcher ends the app at once. */
  unservableExit: number;
  /** As JobRunner.reads. */
  reads(): string[];
}

export interface Runtimes {
  /** Runs the JavaScript entries (runtime tf; shared/runtimes/catalog.ts entryKind). Python entries need no template code (shared/jobs/runtime.ts). */
  nodeJobs: JobRunner;
  modelServer: ModelServer;
}
