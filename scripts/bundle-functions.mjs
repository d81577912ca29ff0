// Bundles each function into one file, dist/bundles/{name}/index.js: the template's server
// (templates/mlp-node20/serve.ts) with that one function imported statically, what the function
// image runs (templates/mlp-node20/Dockerfile). One file starts much faster than the ~300 modules
// the unbundled entry (dist/templates/mlp-node20/index.js) loads one by one (docs/benchmarks.md).
// `--out DIR` writes into DIR instead of dist/bundles/ (tests build into a folder of their own);
// `--only a,b` bundles only those functions.
//
// Left outside the bundle, imported from node_modules when a route's ports need them: the clients
// of real servers (mongodb, kafkajs, @kubernetes/client-node: imported only when configured,
// shared/wiring/deps.ts), the native onnxruntime-node and tfjs (model servers and jobs, own
// processes), and ws (optional native add-ons; loaded only where a WebSocket is served).
//
// A bundle keeps the paths its modules find beside themselves (import.meta.url: the web page, the
// data client, the runtimes' files under dist/templates/): each module's import.meta.url is
// rewritten to where tsc puts that module in dist/, found from the bundle's own place, two
// folders below dist/. So a bundle runs from dist/bundles/{name}/ or any other folder as deep
// (the image's dist/templates/mlp-node20/bundle.js), beside the rest of dist/.
import { build } from 'esbuild';
import { readdirSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name) => {
  const at = process.argv.indexOf(name);
  if (at === -1) return undefined;
  if (!process.argv[at + 1]) throw new Error(`bundle-functions: ${name} needs a value`);
  return process.argv[at + 1];
};
const OUT = arg('--out') ? path.resolve(arg('--out')) : path.join(ROOT, 'dist/bundles');
const FUNCTIONS = path.join(ROOT, 'functions');
const all = readdirSync(FUNCTIONS, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(FUNCTIONS, d.name, 'route.ts')))
  .map((d) => d.name)
  .sort();
const only = arg('--only')?.split(',');
for (const name of only ?? []) if (!all.includes(name)) throw new Error(`bundle-functions: no function ${name}`);
const names = only ?? all;

export const EXTERNAL = ['mongodb', 'kafkajs', '@kubernetes/client-node', 'onnxruntime-node', '@tensorflow/*', 'ws'];

/** The generated entry of one function: its two modules imported statically, served by the template. */
const entry = (name) => `import * as route from '../../functions/${name}/route.js';
import * as handler from '../../functions/${name}/handler.js';
import { checkedFunction } from '../../shared/routes/registry.js';
import { serveFunction } from './serve.js';

const NAME = ${JSON.stringify(name)};
serveFunction(process.env.MLP_FUNCTION || NAME, async (name) => {
  if (name !== NAME) throw new Error(\`this bundle serves \${NAME}, not \${name}\`);
  return checkedFunction(NAME, route, handler);
});
`;

const plugin = {
  name: 'mlp-functions',
  setup(b) {
    b.onResolve({ filter: /^mlp-function:/ }, (a) => ({ path: a.path.slice('mlp-function:'.length), namespace: 'mlp-function' }));
    b.onLoad({ filter: /.*/, namespace: 'mlp-function' }, (a) => ({ contents: entry(a.path), loader: 'ts', resolveDir: path.join(ROOT, 'templates/mlp-node20') }));
    // The repository's own modules: import.meta.url as if the module ran from dist/ (see above).
    b.onLoad({ filter: /\.ts$/ }, (a) => {
      const rel = path.relative(ROOT, a.path);
      if (rel.startsWith('..') || rel.split(path.sep)[0] === 'node_modules') return undefined;
      const text = readFileSync(a.path, 'utf8');
      const at = `__mlpUrl(${JSON.stringify(rel.split(path.sep).join('/').replace(/\.ts$/, '.js'))})`;
      return { contents: text.replace(/\bimport\.meta\.url\b/g, at), loader: 'ts' };
    });
  },
};

mkdirSync(OUT, { recursive: true });
const options = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // What the template imports only when a route's ports need it (shared/wiring/deps.ts: the
  // stores, the bus, the orchestrators, the TCC parts) stays behind its import(), in a chunk of
  // its own beside index.js; inlined, its static imports of the external clients would be hoisted
  // to the top of index.js and loaded at every start.
  splitting: true,
  chunkNames: '[name]-[hash]',
  external: EXTERNAL,
  plugins: [plugin],
  // CommonJS dependencies bundled into ESM call require() for Node's modules.
  banner: {
    js: [
      "import { createRequire as __mlpRequire } from 'node:module';",
      'const require = __mlpRequire(import.meta.url);',
      "const __mlpDist = new URL('../../', import.meta.url);",
      'const __mlpUrl = (rel) => new URL(rel, __mlpDist).href;',
    ].join('\n'),
  },
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
};
// One build per function, so a function's folder holds all it may load and nothing else.
const results = await Promise.all(names.map((name) => build({ ...options, entryPoints: [{ in: `mlp-function:${name}`, out: 'index' }], outdir: path.join(OUT, name) })));
const sizes = results.map((r) => Object.entries(r.metafile.outputs).find(([file]) => file.endsWith('/index.js'))?.[1].bytes ?? 0);
process.stdout.write(`bundle-functions: ${names.length} functions into ${path.relative(ROOT, OUT)} (largest index.js ${(Math.max(...sizes) / 1024 / 1024).toFixed(1)} MiB)\n`);
