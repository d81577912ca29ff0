import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadFunctions } from '../../shared/routes/registry.js';

// Which functions may hold a Kubernetes API token: exactly those whose handler reaches the
// orchestrator's API-backed methods must be marked `orchestrator: true` in their route.ts (they run
// as the mlp-orchestrator ServiceAccount; the rest get no token). A static check: follow the
// handler's value imports (not `import type`) through the repository and look for calls of
// start/stop/status/forget/watch/portAvailable on an orchestrator, or deps.orchestrator handed on
// to someone else. endpoint() alone does not count: it is synchronous and names the app's Service.
const ROOT = path.resolve(import.meta.dirname, '../..');
const API_CALL = /\borchestrator\??\.(start|stop|status|forget|watch|portAvailable)\s*\(/;
const HANDED_ON = /\bdeps\.orchestrator\b(?!\s*\.\s*endpoint\s*\()/;

const stripComments = (src: string) => src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

/** Relative value imports of a TypeScript file, as .ts paths. */
function valueImports(file: string): string[] {
  const src = stripComments(readFileSync(file, 'utf8'));
  const specs: string[] = [];
  for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?([^'";]*?\bfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    if (m[2]) continue; // import type / export type: erased
    specs.push(m[4] ?? '');
  }
  for (const m of src.matchAll(/\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) specs.push(m[1] ?? '');
  return specs.map((s) => path.resolve(path.dirname(file), s.replace(/\.js$/, '.ts'))).filter((p) => existsSync(p));
}

/** The files reached from a handler that call the orchestrator's API (empty: it needs no token). */
function orchestratorCallers(handler: string): string[] {
  const seen = new Set<string>();
  const stack = [handler];
  const hits: string[] = [];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = stripComments(readFileSync(file, 'utf8'));
    if (API_CALL.test(src) || HANDED_ON.test(src)) hits.push(path.relative(ROOT, file));
    stack.push(...valueImports(file));
  }
  return hits.sort();
}

t.test('a function is marked `orchestrator` exactly when its handler reaches the orchestrator', async (t) => {
  const fns = await loadFunctions();
  const reaching: string[] = [];
  for (const { route } of fns) {
    const callers = orchestratorCallers(path.join(ROOT, 'functions', route.name, 'handler.ts'));
    if (callers.length > 0) reaching.push(route.name);
    if (callers.length > 0) t.equal(route.orchestrator, true, `${route.name}: marked (reaches ${callers.join(', ')})`);
    else t.notOk(route.orchestrator, `${route.name}: not marked (reaches no orchestrator call)`);
  }
  // The jobs and apps managers do; this guards the detector itself against finding nothing.
  t.ok(
    ['jobs-create', 'jobs-reconcile', 'apps-watch'].every((n) => reaching.includes(n)),
    `the detector finds the known callers: ${reaching.join(', ')}`,
  );
  t.notOk(reaching.includes('users-get'), 'and not an unrelated function');
});

t.test('the detector follows value imports and ignores type-only ones', async (t) => {
  const watcher = orchestratorCallers(path.join(ROOT, 'functions', 'apps-watch', 'handler.ts'));
  t.ok(watcher.includes('shared/apps/watcher.ts'), 'apps-watch reaches shared/apps/watcher.ts');
  t.ok(API_CALL.test('await deps.orchestrator.stop(app.uid)'));
  t.ok(API_CALL.test('opts.orchestrator.watch(() => run())'));
  t.notOk(API_CALL.test('deps.orchestrator.endpoint(app.uid, app.port)'), 'endpoint() is not an API call');
  t.ok(HANDED_ON.test('observeWorkloads({ orchestrator: deps.orchestrator, log })'), 'handing deps.orchestrator on counts');
  t.notOk(HANDED_ON.test('upstream: deps.orchestrator.endpoint(app.uid, app.port)'));
});
