import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadFunctions } from '../../shared/routes/registry.js';

// docs/api.md cannot drift from the code: every route of the route registry (functions/*/route.ts)
// and every operation of openapi.json is a row of one of its route tables, and every route row
// there exists in the registry. A row is a table line whose first cell is `METHOD /path`.
const ROOT = path.resolve(import.meta.dirname, '../..');
const DOC = readFileSync(path.join(ROOT, 'docs/api.md'), 'utf8');
const openapi = JSON.parse(readFileSync(path.join(ROOT, 'openapi.json'), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
const OPENAPI_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** OpenAPI has no {rest+}: a final {rest} there is the registry's {rest+}. */
const registryPath = (p: string) => p.replace(/\{rest\}$/, '{rest+}');

function documented(): { method: string; path: string }[] {
  const rows: { method: string; path: string }[] = [];
  for (const line of DOC.split('\n')) {
    const m = /^\| `([A-Z]+) (\/[^`\s]*)` \|/.exec(line);
    if (m) rows.push({ method: m[1]!, path: m[2]! });
  }
  return rows;
}

t.test('docs/api.md documents every route of the registry and openapi.json, and no other', async (t) => {
  const rows = documented();
  t.ok(rows.length > 40, `docs/api.md has route rows (${rows.length})`);
  const has = (method: string, p: string) => rows.some((r) => r.path === p && (method === 'ANY' || r.method === method));
  const routes = (await loadFunctions()).map((f) => f.route);

  for (const r of routes) t.ok(has(r.method, r.path), `${r.name}: ${r.method} ${r.path} is in docs/api.md`);
  for (const [p, item] of Object.entries(openapi.paths)) {
    for (const method of Object.keys(item).filter((m) => OPENAPI_METHODS.includes(m))) {
      t.ok(has(method.toUpperCase(), registryPath(p)), `openapi.json ${method.toUpperCase()} ${p} is in docs/api.md`);
    }
  }
  for (const row of rows) {
    const known = routes.some((r) => r.path === row.path && (r.method === row.method || r.method === 'ANY'));
    t.ok(known, `docs/api.md's ${row.method} ${row.path} is a route of the registry`);
  }
  const seen = new Set<string>();
  for (const row of rows) {
    const key = `${row.method} ${row.path}`;
    t.notOk(seen.has(key), `${key} is documented once`);
    seen.add(key);
  }
});
