import { renameSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { loadModelFromFolder } from './load-model.js';
import { createPredictor } from './predictor.js';
import { SERVE_SOCKET_ENV, UNSERVABLE_EXIT } from './command.js';
import { createModelServer } from './server.js';

// The model server of runtime tf (see command.ts for its argv). It listens only once the model
// is loaded, so its health answer means "ready"; a model that cannot be loaded ends the process
// with a message on stderr and exit code 1, which the app watcher shows.
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

  // Production mode: no debug checks, and none of tfjs's "install tfjs-node" banner in the log.
  tf.enableProdMode();
  let layers: tf.LayersModel;
  try {
    layers = await loadModelFromFolder(dir);
  } catch (err) {
    return fail((err as Error).message);
  }
  const predictor = createPredictor(layers);
  // A model may declare inputs no app could hold (a 346-byte model.json can ask for 64 million
  // values a row): refused before the warm-up allocates one, for good (retrying cannot help).
  const ram = Number(values.ram ?? 0);
  const bound = maxValuesPerInstance(ram);
  for (const s of predictor.inputs) {
    const values_ = s.shape.slice(1).reduce<number>((n, d) => n * (d ?? 1), 1);
    if (values_ > bound) fail(`the model's input ${s.name} declares ${values_} values per instance (shape [${s.shape.map((d) => d ?? 'null').join(', ')}]); an app with ram ${ram || 'unknown'} Mi serves at most ${bound}`, UNSERVABLE_EXIT);
  }
  // One predict before listening, so the first client does not pay for the first run's set-up.
  const warm = Object.fromEntries(predictor.inputs.map((s) => [s.name, zeros(s.shape.slice(1).map((d) => d ?? 1))]));
  predictor.predict({ instances: [predictor.inputs.length === 1 ? Object.values(warm)[0] : warm] });

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
  if (socket) server.listen(`${socket}.${process.pid}`, () => {
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

function zeros(shape: number[]): unknown {
  if (shape.length === 0) return 0;
  return Array.from({ length: shape[0] ?? 1 }, () => zeros(shape.slice(1)));
}

main().catch((err: unknown) => fail(`failed: ${(err as Error).stack ?? String(err)}`));
