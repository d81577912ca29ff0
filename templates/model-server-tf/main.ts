import { renameSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { loadBackend, UnservableModel } from './model-files.js';
import { createPredictor, TYPES, type Backend, type Scalar } from './predictor.js';
import { SERVE_SOCKET_ENV, UNSERVABLE_EXIT } from './command.js';
import { createModelServer } from './server.js';

// The model server of runtime tf (see command.ts for its argv): an ONNX model (model.onnx, on
// ONNX Runtime) or a TensorFlow.js layers model (model.json). It listens only once the model is
// loaded, so its health answer means "ready"; a model that cannot be loaded ends the process
// with a message on stderr and exit code 1, which the app watcher shows, or UNSERVABLE_EXIT
// where no retry can help (no model files, a model no app ram could hold).
const fail = (msg: string, code = 1): never => {
  process.stderr.write(`model-server: ${msg}\n`);
  process.exit(code);
};

async function main(): Promise<void> {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({ options: { 'model-dir': { type: 'string' }, port: { type: 'string' }, model: { type: 'string' }, host: { type: 'string' }, ram: { type: 'string' } } }));
  } catch (err) {
    return fail((err as Error).message);
  }
  const dir = values['model-dir'];
  const model = values.model;
  const port = Number(values.port);
  const host = values.host ?? '127.0.0.1';
  if (!dir || !model) return fail('usage: main --model-dir DIR --model NAME --port PORT [--host HOST]');
  if (!Number.isInteger(port) || port < 0 || port > 65535) return fail(`--port must be an integer from 0 to 65535, got ${values.port ?? 'nothing'}`);

  let backend: Backend;
  try {
    backend = await loadBackend(dir);
  } catch (err) {
    return fail((err as Error).message, err instanceof UnservableModel ? UNSERVABLE_EXIT : 1);
  }
  const predictor = createPredictor(backend);
  // A model may declare inputs no app could hold (a 346-byte model.json or a 104-byte model.onnx
  // can ask for 64 million values a row): refused before the warm-up allocates one, for good
  // (retrying cannot help).
  const ram = Number(values.ram ?? 0);
  const bound = maxValuesPerInstance(ram);
  const shown = (shape: (number | null)[]) => `[${shape.map((d) => d ?? 'null').join(', ')}]`;
  for (const s of backend.inputs) {
    const perInstance = s.shape.slice(1).reduce<number>((n, d) => n * (d ?? 1), 1);
    const perRequest = perInstance * (s.shape[0] ?? 1);
    if (perInstance > bound)
      fail(`the model's input ${s.name} declares ${perInstance} values per instance (shape ${shown(s.shape)}); an app with ram ${ram || 'unknown'} Mi serves at most ${bound}`, UNSERVABLE_EXIT);
    if (perRequest > bound)
      fail(`the model's input ${s.name} declares ${perRequest} values per request (shape ${shown(s.shape)}); an app with ram ${ram || 'unknown'} Mi serves at most ${bound}`, UNSERVABLE_EXIT);
  }
  // One run before listening, so the first client does not pay for the first run's set-up. Zeros
  // are not every model's input (an image model's free height and width of 1 may be too small
  // for its kernels): a failed warm-up is said and serving goes on.
  try {
    await backend.run(
      backend.inputs.map((s) => {
        const shape = s.shape.map((d) => d ?? 1);
        const zero: Scalar = TYPES[s.dtype].kind === 'bool' ? false : TYPES[s.dtype].kind === 'string' ? '' : 0;
        return { name: s.name, shape, values: new Array<Scalar>(shape.reduce((n, d) => n * d, 1)).fill(zero) };
      }),
    );
  } catch (err) {
    process.stderr.write(`model-server: the warm-up run on zeros failed (${(err as Error).message.split('\n', 1)[0]}); serving anyway\n`);
  }

  const server = createModelServer({ model, predictor, onFault: (err) => process.stderr.write(`model-server: fault: ${err.stack ?? err.message}\n`) });
  // Sandboxed locally, the server has a network of its own: the orchestrator names a Unix socket
  // (in a folder only the platform reaches) where the app gateway finds it, instead of the port.
  const socket = process.env[SERVE_SOCKET_ENV];
  server.once('error', (err) => fail(`cannot listen on ${socket ?? `${host}:${port}`}: ${err.message}`));
  const listening = () => {
    const address = server.address();
    process.stdout.write(`model-server: serving model ${model} from ${dir} on ${typeof address === 'string' ? `unix:${socket ?? address}` : `http://${host}:${(address as AddressInfo).port}`}\n`);
  };
  // A new socket replaces the old one's name at once (rename), never leaving a moment without one:
  // a gateway connecting meanwhile is refused rather than told the socket is missing.
  if (socket)
    server.listen(`${socket}.${process.pid}`, () => {
      try {
        renameSync(`${socket}.${process.pid}`, socket);
      } catch (err) {
        fail(`cannot put the socket in place at ${socket}: ${(err as Error).message}`);
      }
      listening();
    });
  else server.listen(port, host, listening);
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** Values one instance may hold: an instance costs ~64 bytes a value on its way through JSON and tensors. */
export function maxValuesPerInstance(ramMi: number): number {
  return ramMi > 0 ? Math.floor((ramMi * 1024 * 1024) / 64) : 1_000_000;
}

main().catch((err: unknown) => fail(`failed: ${(err as Error).stack ?? String(err)}`));
