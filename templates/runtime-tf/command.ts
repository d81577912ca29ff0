import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * True when the platform runs from its TypeScript sources through tsx (tests), false when it
 * runs the compiled dist/ (`npm start`). Processes it starts then need tsx too, to load the
 * runtime's own .ts files.
 */
export const FROM_SOURCE = import.meta.url.endsWith('.ts');
const EXT = FROM_SOURCE ? '.ts' : '.js';

/** The platform's own node_modules: where `@tensorflow/tfjs` and kafkajs are installed. */
export function platformNodeModules(): string {
  // Looked up when a job starts, not at import: every function's entry imports this module (templates/runtimes.ts).
  return path.resolve(path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs/package.json')), '../..');
}

/** `node`, with tsx when running from source (its URL, as a job's working directory cannot resolve `tsx`). */
export function platformNode(): string[] {
  return FROM_SOURCE ? [process.execPath, '--import', import.meta.resolve('tsx')] : [process.execPath];
}

/** The argv of a `.mjs`/`.js` entry under runtime tf: `@tensorflow/tfjs` and `@mlp/runtime` resolve without an install. */
export function tfJobCommand(entryFile: string): string[] {
  // register installs the resolve hook before the entry loads.
  return [...platformNode(), '--import', new URL(`./register${EXT}`, import.meta.url).href, entryFile];
}

/** Environment a node job needs besides the platform's MLP_* variables: NODE_PATH for CommonJS `require`. */
export function tfJobEnv(): Record<string, string> {
  return { NODE_PATH: platformNodeModules() };
}

/** This template's folder (dist/templates/runtime-tf when built): the hook and @mlp/runtime a job of it loads. */
const RUNTIME_TF_DIR = fileURLToPath(new URL('./', import.meta.url));

/** What a sandboxed node process of runtime tf reads of the platform: this folder and the platform's packages. */
export const runtimeTfReads = (): string[] => [RUNTIME_TF_DIR, platformNodeModules()];

/** Runtime tf's runner of JavaScript entries: the platform's JobRunner (shared/runtimes/port.ts), implemented without importing shared/. */
export const nodeJobs = { command: tfJobCommand, env: tfJobEnv, reads: runtimeTfReads };
