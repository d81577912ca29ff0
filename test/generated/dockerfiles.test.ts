import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { DockerfileParser, type Dockerfile, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import t from 'tap';

// No Docker engine here: every Dockerfile under templates/ is checked statically. It parses
// (dockerfile-ast, with dockerfile-utils' validator), its base images are pinned to a version,
// what it copies from the build context exists in the repository (the context is the repository
// root), what it copies from its build stage is something the build makes, the final stage runs
// as a non-root user, and its entry command names a file the image holds from the build.
const ROOT = path.resolve(import.meta.dirname, '../..');
const dockerfiles = readdirSync(path.join(ROOT, 'templates'))
  .map((d) => `templates/${d}/Dockerfile`)
  .filter((f) => existsSync(path.join(ROOT, f)));

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
  workdir: string;
  /** The destination is a folder the sources go into (several sources, or a trailing /). */
  into: boolean;
}
interface Stage {
  name?: string;
  image: string;
  workdir: string;
  copies: Copy[];
  user?: string;
  entry: string[];
  env: Record<string, string>;
  runs: string[];
  /** COPY and RUN in order, with the WORKDIR each ran in. */
  steps: ({ copy: Copy } | { run: string; workdir: string })[];
}

/** An instruction's arguments: the exec form as JSON (Docker falls back to a shell string when it is not), else words. */
const args = (i: Instruction): string[] => {
  const raw = i.getRawArgumentsContent() ?? '';
  if (['CMD', 'ENTRYPOINT', 'RUN'].includes(i.getKeyword()) && raw.trimStart().startsWith('[')) return JSON.parse(raw) as string[];
  return i.getArguments().map((a) => a.getValue());
};
const flag = (i: Instruction, name: string) =>
  (i as unknown as { getFlags?(): { getName(): string; getValue(): string | null }[] })
    .getFlags?.()
    .find((f) => f.getName() === name)
    ?.getValue() ?? undefined;

/** The stages in order, with the paths they copy (resolved against WORKDIR) and their entry command. */
function stages(df: Dockerfile): Stage[] {
  const out: Stage[] = [];
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  const finish = () => {
    const s = out.at(-1);
    if (s) s.entry = [...entrypoint, ...cmd];
  };
  for (const i of df.getInstructions()) {
    const keyword = i.getKeyword();
    const stage = out.at(-1);
    if (keyword === 'FROM') {
      finish();
      const [image = '', as, name] = args(i);
      out.push({ image, ...(as?.toUpperCase() === 'AS' ? { name } : {}), workdir: '/', copies: [], entry: [], env: {}, runs: [], steps: [] });
      entrypoint = [];
      cmd = [];
    } else if (!stage) continue;
    else if (keyword === 'WORKDIR') stage.workdir = path.posix.resolve(stage.workdir, args(i)[0] ?? '');
    else if (keyword === 'COPY' || keyword === 'ADD') {
      const a = args(i);
      const copy = {
        from: flag(i, 'from'),
        sources: a.slice(0, -1),
        dest: path.posix.resolve(stage.workdir, a.at(-1) ?? ''),
        workdir: stage.workdir,
        into: a.length > 2 || (a.at(-1) ?? '').endsWith('/'),
      };
      stage.copies.push(copy);
      stage.steps.push({ copy });
    } else if (keyword === 'USER') stage.user = args(i)[0];
    else if (keyword === 'RUN') {
      stage.runs.push(i.getRawArgumentsContent() ?? '');
      stage.steps.push({ run: i.getRawArgumentsContent() ?? '', workdir: stage.workdir });
    } else if (keyword === 'ENTRYPOINT') entrypoint = args(i);
    else if (keyword === 'CMD') cmd = args(i);
    else if (keyword === 'ENV') {
      const properties = (i as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }).getProperties();
      for (const p of properties) stage.env[p.getName()] = p.getValue() ?? '';
    }
  }
  finish();
  return out;
}

/** Whether the build stage makes this path (relative to its WORKDIR): an npm install, the compiled tree, or a venv a RUN makes. */
function buildMakes(rel: string, stage?: Stage): boolean {
  if (rel === 'node_modules' || rel === 'package.json') return true; // npm ci; the repository's package.json
  const venvs = (stage?.runs ?? []).flatMap((r) => [...r.matchAll(/-m venv (\/\S+)/g)].map((m) => m[1] ?? ''));
  const at = path.posix.resolve(stage?.workdir ?? '/', rel);
  if (venvs.some((v) => at === v || at.startsWith(`${v}/`))) return true;
  if (!rel.startsWith('dist/')) return existsSync(path.join(ROOT, rel));
  const src = rel.slice('dist/'.length).replace(/\$\{FUNCTION\}/, 'users-create');
  if (existsSync(path.join(ROOT, src)) || existsSync(path.join(ROOT, src.replace(/\.js$/, '.ts')))) return true;
  // Written by a build script rather than tsc (dist/client by scripts/bundle-client.mjs).
  const scripts = readdirSync(path.join(ROOT, 'scripts')).filter((f) => f.endsWith('.mjs'));
  const written = (dir: string) => scripts.some((f) => readFileSync(path.join(ROOT, 'scripts', f), 'utf8').includes(`'${dir}`));
  // A function's bundle, dist/bundles/{name}/index.js and its chunks (scripts/bundle-functions.mjs):
  // the function must exist and a build script must write dist/bundles.
  const bundle = /^dist\/bundles\/([^/]+)(\/index\.js)?$/.exec(src.startsWith('bundles/') ? `dist/${src}` : '');
  if (bundle) return existsSync(path.join(ROOT, 'functions', bundle[1] ?? '', 'route.ts')) && written('dist/bundles');
  return written(`${rel}/`);
}

/** Where in the repository (or build) an image path of the final stage comes from; undefined: nowhere. */
function origin(all: Stage[], final: Stage, imagePath: string): string | undefined {
  for (const c of [...final.copies].reverse()) {
    if (imagePath !== c.dest && !imagePath.startsWith(`${c.dest}/`)) continue;
    const rest = imagePath.slice(c.dest.length);
    const [source = ''] = c.sources;
    if (c.from === undefined) return existsSync(path.join(ROOT, source + rest)) ? `${source}${rest}` : undefined;
    const stage = all.find((s) => s.name === c.from);
    if (!stage) return undefined;
    if (!stage.copies.length) return `${stage.image}:${source}${rest}`; // a file of another image (the watchdog)
    const rel = path.posix.relative(stage.workdir, source + rest);
    return buildMakes(rel, stage) ? `build:${rel}` : undefined;
  }
  return undefined;
}

const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

/**
 * A tsconfig and what it reads: the configs it extends, and the top folders of what it includes
 * (its own include, else the nearest one it extends: an include replaces the base's).
 */
function tsconfigReads(rel: string): string[] {
  const configs: string[] = [];
  let include: string[] | undefined;
  for (let at: string | undefined = rel; at; ) {
    const config = JSON.parse(readFileSync(path.join(ROOT, at), 'utf8')) as { extends?: string; include?: string[] };
    const dir = path.posix.dirname(at);
    const from = (p: string) => path.posix.normalize(path.posix.join(dir, p));
    configs.push(at);
    include ??= config.include?.map((g) =>
      from(
        g
          .split('/')
          .filter((part) => !/[*?]/.test(part))
          .join('/') || '.',
      ),
    );
    at = config.extends ? from(config.extends) : undefined;
  }
  return [...configs, ...(include ?? [path.posix.dirname(rel)])];
}

/** What a build script reads from the repository: itself, and each path it joins onto the root (its first folder). */
function scriptReads(rel: string): string[] {
  const text = readFileSync(path.join(ROOT, rel), 'utf8');
  return [rel, ...[...text.matchAll(/path\.join\(ROOT, '([^']+)'/g)].map((m) => (m[1] ?? '').split('/')[0] ?? '')];
}

/**
 * The repository paths a RUN reads (relative to the repository root), for the commands that read
 * the source tree: npm run <script> (each of its steps), tsc -p <config>, node <script>. What npm ci
 * makes (node_modules) and what the build writes (dist) are left out.
 */
function runReads(run: string): string[] {
  const reads: string[] = [];
  for (const step of run.split(/&&|;|\n/).map((s) => s.replace(/\\$/, '').trim())) {
    const words = step.split(/\s+/).filter((w) => !/^[A-Z_]+=/.test(w));
    const [first, second, third] = words;
    if (first === 'npm' && second === 'run' && third) {
      const script = PACKAGE.scripts[third];
      if (script) reads.push('package.json', ...runReads(script));
      continue;
    }
    const command = first === 'npx' ? words.slice(1) : words;
    if (command[0] === 'tsc') {
      const p = command.indexOf('-p');
      reads.push(...tsconfigReads(p >= 0 ? (command[p + 1] ?? 'tsconfig.json') : 'tsconfig.json'));
    } else if (command[0] === 'node' && command[1] && /\.m?js$/.test(command[1])) reads.push(...scriptReads(command[1]));
  }
  return [...new Set(reads)].filter((r) => r !== '' && r !== '.' && r.split('/')[0] !== 'node_modules' && r.split('/')[0] !== 'dist');
}

/** Whether the steps before this RUN copied the repository path `rel` to where the RUN finds it (its WORKDIR + rel). */
function copiedBefore(steps: Stage['steps'], index: number, workdir: string, rel: string): boolean {
  const want = path.posix.resolve(workdir, rel);
  return steps.slice(0, index).some((step) => {
    if (!('copy' in step) || step.copy.from !== undefined) return false;
    const { copy } = step;
    return copy.sources.some((source) => {
      const src = path.posix.normalize(source).replace(/\/$/, '');
      if (rel !== src && !rel.startsWith(`${src}/`) && src !== '.') return false;
      const landed = copy.into ? path.posix.join(copy.dest, path.posix.basename(src)) : copy.dest;
      const under = src === '.' ? rel : rel.slice(src.length);
      return path.posix.join(src === '.' ? copy.dest : landed, under) === want;
    });
  });
}

t.test('there are Dockerfiles for functions, jobs and apps', async (t) => {
  t.same(dockerfiles.sort(), ['templates/mlp-node20/Dockerfile', 'templates/model-server-tf/Dockerfile', 'templates/runtime-tf/Dockerfile', 'templates/runtime-torch/Dockerfile']);
});

for (const file of dockerfiles) {
  t.test(file, async (t) => {
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    const problems = validate(text).filter((d) => d.severity === 1);
    t.same(
      problems.map((d) => `${d.range.start.line + 1}: ${d.message}`),
      [],
      'parses with no error (dockerfile-utils)',
    );
    const df = DockerfileParser.parse(text);
    const argDefaults = Object.fromEntries(df.getARGs().map((a) => [a.getProperty()?.getName() ?? '', a.getProperty()?.getValue() ?? '']));
    const all = stages(df);
    const names = all.map((s) => s.name).filter(Boolean);
    t.ok(all.length >= 2, 'a build stage and a runtime stage');

    for (const s of all) {
      if (names.includes(s.image)) continue;
      const image = s.image.replace(/\$\{(\w+)\}/g, (_, v: string) => argDefaults[v] ?? '');
      const tag = /:([^/:@]+)$/.exec(image)?.[1] ?? '';
      t.match(tag, /^v?\d+\.\d+(\.\d+)?([-.][A-Za-z0-9.-]+)?$/, `${s.image}: pinned to a version tag (${tag || 'none'})`);
    }

    for (const s of all) {
      for (const c of s.copies) {
        for (const source of c.sources) {
          if (c.from === undefined) {
            t.ok(existsSync(path.join(ROOT, source)), `COPY ${source}: in the repository`);
          } else if (all.find((x) => x.name === c.from)?.copies.length) {
            const stage = all.find((x) => x.name === c.from) as Stage;
            const rel = path.posix.relative(stage.workdir, source);
            t.ok(buildMakes(rel, stage), `COPY --from=${c.from} ${source}: the build makes it`);
          }
        }
      }
    }

    // Seen failing before ui/ was copied into mlp-node20's build stage: npm run build bundles the UI.
    for (const s of all) {
      s.steps.forEach((step, index) => {
        if (!('run' in step)) return;
        for (const rel of runReads(step.run)) {
          t.ok(copiedBefore(s.steps, index, step.workdir, rel), `RUN ${step.run.split('\n')[0]?.slice(0, 40)}…: reads ${rel}, copied before it`);
        }
      });
    }

    const final = all.at(-1) as Stage;
    t.ok(final.user, 'the final stage sets a USER');
    t.notOk(['root', '0', '0:0'].includes(final.user ?? 'root'), `and it is not root (${final.user})`);

    // The entry command (ENTRYPOINT + CMD; the watchdog's fprocess too): each file it names is in the image.
    const commands = [final.entry, ...(final.env.fprocess ? [final.env.fprocess.split(' ')] : [])];
    t.ok(final.entry.length > 0, `an entry command: ${final.entry.join(' ')}`);
    for (const command of commands) {
      const [program = '', ...rest] = command;
      const named = rest.map((a) => a.replace(/^file:\/\//, '')).filter((a) => /\.(m?js|py)$/.test(a));
      if (program === 'node') t.ok(named.length > 0, `${command.join(' ')}: node runs a file`);
      for (const p of program === 'node' ? named : [program.startsWith('/') ? program : `/usr/bin/${program}`]) {
        const at = path.posix.resolve(final.workdir, p);
        const from = origin(all, final, at);
        t.ok(from, `${p}: in the image, from ${from ?? 'nowhere'}`);
      }
    }
  });
}

t.test("the runtime images follow the Kubernetes conventions: the checkout's layout at /opt/mlp", async (t) => {
  const { dependencies } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  t.ok(dependencies['@tensorflow/tfjs'], '@tensorflow/tfjs is a production dependency (npm prune --omit=dev keeps it)');
  for (const [template, parts] of [
    ['runtime-tf', ['runtime-tf']],
    ['model-server-tf', ['model-server-tf', 'runtime-tf']],
  ] as const) {
    const text = readFileSync(path.join(ROOT, 'templates', template, 'Dockerfile'), 'utf8');
    const final = stages(DockerfileParser.parse(text)).at(-1) as Stage;
    const dests = final.copies.map((c) => c.dest);
    for (const want of ['/opt/mlp/package.json', '/opt/mlp/node_modules', ...parts.map((p) => `/opt/mlp/dist/templates/${p}`), `/opt/mlp/templates/${template}`]) {
      t.ok(dests.includes(want), `${template}: ${want}`);
    }
    if (template === 'runtime-tf') t.match(text, /apt-get install -y --no-install-recommends python3\b/, 'runtime-tf: python3 for .py entries');
  }
});

t.test('each Python runtime image holds the environment the local orchestrator builds: the same pins, the helper, python first on PATH', async (t) => {
  for (const runtime of ['tf', 'torch']) {
    const text = readFileSync(path.join(ROOT, 'templates', `runtime-${runtime}`, 'Dockerfile'), 'utf8');
    const all = stages(DockerfileParser.parse(text));
    const final = all.at(-1) as Stage;
    const build = all.find((s) => s.runs.some((r) => r.includes('-m venv')));
    t.ok(build, `runtime-${runtime}: a stage makes the venv`);
    const install = build?.runs.find((r) => r.includes('pip install')) ?? '';
    t.match(install, `-r templates/runtime-py/requirements-${runtime}.txt`, `runtime-${runtime}: pip installs requirements-${runtime}.txt, as shared/runtimes/catalog.ts names it`);
    t.match(install, /pip check/, `runtime-${runtime}: and checks it`);
    t.ok(
      build?.copies.some((c) => c.sources.some((s) => s.startsWith('templates/runtime-py') || s === 'templates')),
      `runtime-${runtime}: the requirements file is copied into the build`,
    );
    t.ok(
      final.copies.some((c) => c.dest === '/opt/mlp/venv'),
      `runtime-${runtime}: the venv at /opt/mlp/venv`,
    );
    t.ok(
      final.copies.some((c) => c.dest === '/opt/mlp/templates/runtime-py' && c.sources.includes('templates/runtime-py')),
      `runtime-${runtime}: the helper mlp where the job's PYTHONPATH is rewritten to`,
    );
    t.match(final.env.PATH ?? '', /^\/opt\/mlp\/venv\/bin:/, `runtime-${runtime}: its python first on PATH (the pod runs \`python entry.py\`)`);
  }
});

t.test('the checks can fail', async (t) => {
  t.ok(
    validate('FROM node:20\nCOPY\n').some((d) => d.severity === 1),
    'a COPY without arguments is an error',
  );
  const bad = stages(DockerfileParser.parse('FROM node:20 AS build\nWORKDIR /b\nRUN true\nFROM node:20\nWORKDIR /a\nCOPY --from=build /b/dist/nope ./dist/nope\nCMD ["node", "/a/dist/missing.js"]\n'));
  const final = bad.at(-1) as Stage;
  t.equal(origin(bad, final, '/a/dist/missing.js'), undefined, 'a file no COPY puts there');
  t.notOk(buildMakes('dist/nope'), 'a dist path with no source');
  t.ok(buildMakes('dist/bundles/${FUNCTION}/index.js'), "a function's bundle (scripts/bundle-functions.mjs)");
  t.notOk(buildMakes('dist/bundles/no-such-function/index.js'), 'the bundle of a function that does not exist');
  t.notOk(buildMakes('dist/bundles/users-create/other.js'), 'a file the bundler does not name');
  t.notOk(buildMakes('venv', { ...final, runs: ['python3 -m venv /elsewhere/venv && true'] }), 'a venv made elsewhere');
  t.equal(final.user, undefined, 'no USER is seen as none');
  t.ok(runReads('npm run build').includes('ui'), 'npm run build reads ui/ (scripts/bundle-ui.mjs)');
  t.ok(runReads('npm run build').includes('scripts/bundle-ui.mjs'), 'and the bundle scripts');
  t.ok(
    ['tsconfig.json', 'tsconfig.build.json', 'shared', 'functions', 'templates', 'scripts', 'bin'].every((r) => runReads('npx tsc -p tsconfig.build.json').includes(r)),
    'tsc reads its configs and what they include',
  );
  const missing = stages(
    DockerfileParser.parse('FROM node:20 AS build\nWORKDIR /app\nCOPY package.json tsconfig.json ./\nCOPY shared ./src/shared\nRUN npx tsc -p tsconfig.json\nCOPY ui ./ui\n'),
  )[0] as Stage;
  const run = missing.steps.findIndex((s) => 'run' in s);
  t.ok(copiedBefore(missing.steps, run, '/app', 'tsconfig.json'), 'a file copied into a folder');
  t.notOk(copiedBefore(missing.steps, run, '/app', 'shared'), 'a folder copied elsewhere');
  t.notOk(copiedBefore(missing.steps, run, '/app', 'ui'), 'a folder copied only after the RUN');
});
