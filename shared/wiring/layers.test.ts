import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import ts from 'typescript';

// The direction of imports between the checkout's layers (docs/architecture.md, Layout): shared/
// is the library and reaches the runtimes' code only through the port handed in
// (shared/runtimes/port.ts), and the runtimes' own code stays inside templates/, as their images
// and sandboxes hold only templates/ and node_modules (templates/model-server-tf/Dockerfile,
// shared/runtimes/sandbox-files.ts). Type-only imports count too: one is a step from a value import.
const ROOT = path.resolve(import.meta.dirname, '../..');

/** Every relative import of the TypeScript files under `dir`, resolved to a path relative to the checkout. */
function importsUnder(dir: string): { file: string; target: string }[] {
  const files = readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  return files.flatMap((f) => {
    const file = path.join(dir, f);
    const { importedFiles } = ts.preProcessFile(readFileSync(path.join(ROOT, file), 'utf8'), true, true);
    return importedFiles.filter((i) => i.fileName.startsWith('.')).map((i) => ({ file, target: path.join(path.dirname(file), i.fileName) }));
  });
}

const within = (target: string, dir: string) => target === dir || target.startsWith(`${dir}/`);

t.test('the scan finds what it looks for', async (t) => {
  t.ok(
    importsUnder('shared').some((i) => i.file === path.join('shared', 'wiring', 'deps.ts') && within(i.target, 'shared/runtimes')),
    'shared/wiring/deps.ts imports the port',
  );
  t.ok(
    importsUnder('templates/model-server-tf').some((i) => within(i.target, 'templates/runtime-tf')),
    'the model server imports runtime-tf',
  );
});

t.test('no file under shared/ imports templates/', async (t) => {
  t.same(
    importsUnder('shared').filter((i) => within(i.target, 'templates')),
    [],
  );
});

t.test('the model server and runtime tf import nothing of the checkout outside templates/', async (t) => {
  for (const dir of ['templates/model-server-tf', 'templates/runtime-tf']) {
    t.same(
      importsUnder(dir).filter((i) => !within(i.target, 'templates')),
      [],
      dir,
    );
  }
});
