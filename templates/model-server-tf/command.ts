import { fileURLToPath } from 'node:url';
import { platformNode, runtimeTfReads } from '../runtime-tf/command.js';

/** Answers 200 once the model is loaded (the server listens only then). */
export const HEALTH_PATH = '/health';

export interface ModelServerOptions {
  /** The model's folder: model.onnx, or model.json and its weight files (see model-files.ts). */
  modelDir: string;
  port: number;
  /** The name clients use in /v1/models/{model} and /v2/models/{model}. */
  model: string;
  /** Default 127.0.0.1; 0.0.0.0 in a pod. */
  host?: string;
  /** The app's ram (Mi): what the model may declare is bounded by it before anything is allocated. */
  ram?: number;
}

/**
 * Set by the local orchestrator when it runs the server in a sandbox (its own network namespace):
 * the Unix socket to listen on instead of the port (orchestrator/port.ts, Workload.health).
 */
export const SERVE_SOCKET_ENV = 'MLP_SERVE_SOCKET';

/** The exit code of a server whose model can never be served (retrying cannot help). */
export const UNSERVABLE_EXIT = 78;

const MAIN = fileURLToPath(new URL(`./main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

/** The argv that starts the model server of runtime tf (TensorFlow-Serving's REST API and the Open Inference Protocol). */
export function modelServerCommand(opts: ModelServerOptions): string[] {
  return [
    ...platformNode(),
    MAIN,
    '--model-dir',
    opts.modelDir,
    '--port',
    String(opts.port),
    '--model',
    opts.model,
    '--host',
    opts.host ?? '127.0.0.1',
    ...(opts.ram ? ['--ram', String(opts.ram)] : []),
  ];
}

/**
 * The model server as the platform's ModelServer (shared/runtimes/port.ts), implemented without
 * importing shared/. A sandboxed server reads this folder and what it imports of runtime tf.
 */
export const modelServer = {
  command: modelServerCommand,
  healthPath: HEALTH_PATH,
  socketEnv: SERVE_SOCKET_ENV,
  unservableExit: UNSERVABLE_EXIT,
  reads: (): string[] => [fileURLToPath(new URL('./', import.meta.url)), ...runtimeTfReads()],
};
