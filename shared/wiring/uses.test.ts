import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../config/load.js';
import { createDeps, type Deps } from './deps.js';
import { scopeDeps, scopeFunction, USES, usesOf } from './uses.js';
import { createLogger, memorySink } from '../core/log.js';
import { loadFunctions } from '../routes/registry.js';
import type { RouteDef } from '../routes/route.js';
import type { LoadedFunction } from '../http/adapter.js';
import type { Runtimes } from '../runtimes/port.js';

const fake = { store: 'S', users: 'U', bus: 'B', orchestrator: 'O', resources: 'R', tcc: 'T', config: 'C', log: 'L' } as unknown as Deps;

t.test('a scoped view reads what the route declares and what every function has; anything else throws naming the route file', async (t) => {
  const view = scopeDeps(fake, { name: 'datasets-get', uses: ['store'] });
  t.equal(view.store as unknown, 'S');
  t.equal(view.users as unknown, 'U', 'the users repository comes with the store');
  t.equal(view.config as unknown, 'C');
  t.throws(() => view.bus, /functions\/datasets-get\/route\.ts does not declare uses: \['bus'\], yet its code reads deps\.bus/);
  t.throws(() => view.orchestrator, /uses: \['orchestrator'\]/);
  t.throws(() => view.tcc, /uses: \['resources'\]/);
});

t.test('a handler run through scopeFunction gets the scoped view, whatever deps it is called with', async (t) => {
  const route = { name: 'x', method: 'GET', path: '/x', auth: 'none', description: '' } as RouteDef;
  const fn = scopeFunction({ route, handle: (async (_input: unknown, deps: Deps) => deps.bus) as LoadedFunction['handle'] }, fake);
  await t.rejects((fn.handle as (i: unknown, d: Deps) => Promise<unknown>)({}, fake), /does not declare uses: \['bus'\]/);
});

t.test('usesOf adds the store where authentication reads users or the ledger lives', async (t) => {
  t.same(usesOf({ auth: 'none' }), []);
  t.same(usesOf({ auth: 'service' }), []);
  t.same(usesOf({ auth: 'owner' }), ['store']);
  t.same(usesOf({ auth: 'service', uses: ['resources'] }), ['store', 'resources']);
});

t.test('every route declares only known uses, each once', async (t) => {
  for (const { route } of await loadFunctions()) {
    const uses = route.uses ?? [];
    t.ok(
      uses.every((u) => USES.includes(u)),
      `${route.name}: ${uses.join(', ')}`,
    );
    t.equal(new Set(uses).size, uses.length, `${route.name}: no use twice`);
  }
});

t.test('createDeps with uses builds only those: the others throw when read, and close() closes what it opened', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-uses-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const deps = await createDeps(loadConfig({ MLP_ROOT: root }), createLogger({ component: 't', sinks: [memorySink()] }), { runtimes: {} as Runtimes }, ['store']);
  t.same(deps.built, ['store']);
  t.notOk(await deps.users.get('nobody'), 'the store is there');
  t.throws(() => deps.bus.kind, /did not build 'bus'/);
  t.throws(() => deps.orchestrator.kind, /did not build 'orchestrator'/);
  t.throws(() => deps.resources.ensureTenant, /did not build 'resources'/);
  await deps.close();
});
