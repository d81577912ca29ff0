// `npm start`: install what is missing, build, run the whole platform in one process.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT, build, ensureBubblewrap, ensureNodeModules } from './lib/setup.mjs';

try {
  ensureNodeModules();
  ensureBubblewrap({ required: false }); // the job sandbox; the platform says loudly if it is missing
  build();
} catch (err) {
  process.stderr.write(`mlp: set-up failed: ${err.message}\n`);
  process.exit(err.exitCode ?? 1);
}

const child = spawn(process.execPath, [path.join(ROOT, 'dist/scripts/local/main.js')], { cwd: process.cwd(), stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
