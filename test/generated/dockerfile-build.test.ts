import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';

// No Docker engine or daemonless builder runs here, so each image's Node build stage is replayed
// on the host: a temporary folder gets exactly what the stage COPYs from the build context (the
// repository's tracked files under each source), the checkout's node_modules stands in for its
// `npm ci` (the same lock file), and the stage's build command runs there. Then every path the
// final stage copies from the build stage must exist. A Dockerfile that forgets to copy something
// the build needs (as ui/ once was for `npm run build`) fails here.
const ROOT = path.resolve(import.meta.dirname, '../..');
const DOCKERFILES = ['templates/mlp-node20/Dockerfile', 'templates/model-server-tf/Dockerfile', 'templates/runtime-tf/Dockerfile'];
/** A function for the function image's ${FUNCTION} (any will do: each is built the same way). */
const FUNCTION = 'datasets-get';

// Two builds from scratch (tsc, and for the function image the client and UI bundles).
t.setTimeout(20 * 60_000);

interface BuildStage {
  workdir: string;
  /** Sources of the stage's COPY instructions from the build context. */
  copies: string[];
  /** The build command of its RUN (what precedes `npm prune`). */
  build: string;
}

/** Instructions with their continuation lines joined, comments dropped. */
function instructions(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

function parse(file: string): { stage: BuildStage; fromBuild: string[] } {
  const lines = instructions(readFileSync(path.join(ROOT, file), 'utf8'));
  const start = lines.findIndex((l) => /^FROM node:\S+ AS build$/i.test(l));
  const end = lines.findIndex((l, i) => i > start && /^FROM /i.test(l));
  if (start < 0 || end < 0) throw new Error(`${file}: no node build stage followed by a final stage`);
  const stage: BuildStage = { workdir: '/', copies: [], build: '' };
  for (const l of lines.slice(start + 1, end)) {
    const [keyword, ...rest] = l.split(/\s+/);
    if (keyword === 'WORKDIR') stage.workdir = rest[0] ?? '/';
    if (keyword === 'COPY' && !rest[0]?.startsWith('--')) stage.copies.push(...rest.slice(0, -1));
    if (keyword === 'RUN' && /npm prune/.test(l)) stage.build = (l.slice(4).split('&& npm prune')[0] ?? '').trim();
  }
  // What the final stage takes from the build stage, relative to its WORKDIR.
  const fromBuild = lines
    .slice(end)
    .filter((l) => /^COPY --from=build /.test(l))
    .map((l) => path.relative(stage.workdir, (l.split(/\s+/)[2] ?? '').replace('${FUNCTION}', FUNCTION)));
  return { stage, fromBuild };
}

/** The tracked files under `source` (a file or a folder of the repository), copied into `dir`. */
function copyTracked(source: string, dir: string): number {
  const files = execFileSync('git', ['ls-files', '-z', '--', source], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of files) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    copyFileSync(path.join(ROOT, f), path.join(dir, f));
  }
  return files.length;
}

const built = new Map<string, string>();
t.teardown(() => {
  for (const dir of built.values()) rmSync(dir, { recursive: true, force: true });
});

for (const file of DOCKERFILES) {
  t.test(`${file}: its build stage builds from what it copies, and makes what the final stage takes`, async (t) => {
    const { stage, fromBuild } = parse(file);
    t.ok(stage.build, `the build stage has a build command (${stage.build})`);
    t.ok(fromBuild.length > 0, 'the final stage takes files from the build stage');
    // The same sources and command build the same tree: replayed once.
    const key = `${stage.copies.join(' ')}|${stage.build}`;
    let dir = built.get(key);
    if (!dir) {
      dir = mkdtempSync(path.join(tmpdir(), 'mlp-image-build-'));
      built.set(key, dir);
      for (const source of stage.copies) t.ok(copyTracked(source, dir) > 0, `COPY ${source}: tracked files to copy`);
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
      const run = spawnSync('/bin/sh', ['-c', stage.build], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, PATH: `${path.join(dir, 'node_modules/.bin')}:${process.env.PATH ?? ''}` },
        timeout: 15 * 60_000,
      });
      t.equal(run.status, 0, `${stage.build} succeeded with only the copied files: ${`${run.stdout}${run.stderr}`.slice(-2000)}`);
    }
    for (const rel of fromBuild) {
      if (rel === 'venv') continue; // made by the Python RUN of runtime tf's stage, not by the Node build
      t.ok(existsSync(path.join(dir, rel)), `the build made ${rel}, which the final stage copies`);
    }
  });
}

t.test('the replay can fail: a stage that does not copy ui/ cannot run npm run build', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-image-build-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const source of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'shared', 'functions', 'templates', 'scripts', 'bin']) copyTracked(source, dir);
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const run = spawnSync('/bin/sh', ['-c', 'npm run build'], { cwd: dir, encoding: 'utf8', timeout: 15 * 60_000 });
  t.not(run.status, 0, 'without ui/ the build fails');
  t.match(`${run.stdout}${run.stderr}`, /ui\/tsconfig\.json|ui\//, 'for want of ui/');
});
