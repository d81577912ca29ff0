import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Service } from '@kubernetes-models/knative/serving.knative.dev/v1';
import { PingSource } from '@kubernetes-models/knative/sources.knative.dev/v1';
import t from 'tap';
import { parseAllDocuments, parse } from 'yaml';
import { loadFunctions } from '../../shared/registry.js';

// The generated deployment files, validated offline: Knative manifests against the published
// Knative schemas (kubernetes-models), stack.yml against OpenFaaS's stack file rules.
const ROOT = path.resolve(import.meta.dirname, '../..');

t.test('every knative/*.yaml document is a valid Knative resource for a registered function', async (t) => {
  const fns = await loadFunctions();
  const files = readdirSync(path.join(ROOT, 'knative'));
  t.same(files.sort(), fns.map((f) => `${f.route.name}.yaml`).sort(), 'one file per function');
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(path.join(ROOT, 'knative', file), 'utf8'))) {
      const obj = doc.toJS() as { kind: string; metadata: { name: string } };
      const Model = obj.kind === 'Service' ? Service : obj.kind === 'PingSource' ? PingSource : undefined;
      t.ok(Model, `${file}: known kind ${obj.kind}`);
      if (!Model) continue;
      t.doesNotThrow(() => new Model(obj as never).validate(), `${file}: ${obj.kind} ${obj.metadata.name} is valid`);
      const route = fns.find((f) => `${f.route.name}.yaml` === file)?.route;
      if (obj.kind === 'Service' && route?.maxScale) {
        t.match(obj, { spec: { template: { metadata: { annotations: { 'autoscaling.knative.dev/max-scale': String(route.maxScale) } } } } }, `${file}: max-scale ${route.maxScale}`);
      }
    }
  }
  t.throws(() => new Service({ metadata: { name: 'x' }, spec: { template: { spec: { containers: 'nope' } } } } as never).validate(), 'the validator does reject a bad manifest');
});

t.test('stack.yml follows OpenFaaS\'s stack format and covers every function', async (t) => {
  const fns = await loadFunctions();
  const stack = parse(readFileSync(path.join(ROOT, 'stack.yml'), 'utf8')) as {
    version: string;
    provider: { name: string; gateway: string };
    functions: Record<string, Record<string, unknown>>;
  };
  t.equal(stack.version, '1.0');
  t.equal(stack.provider.name, 'openfaas');
  t.same(Object.keys(stack.functions).sort(), fns.map((f) => f.route.name).sort());
  // Fields and types of OpenFaaS's stack.Function (faas-cli stack package).
  const allowed: Record<string, string> = {
    lang: 'string', handler: 'string', image: 'string', skip_build: 'boolean', environment: 'object', labels: 'object',
    annotations: 'object', secrets: 'object', build_args: 'object', environment_file: 'object', limits: 'object', requests: 'object',
    constraints: 'object', readonly_root_filesystem: 'boolean', namespace: 'string', fprocess: 'string',
  };
  for (const [name, fn] of Object.entries(stack.functions)) {
    t.match(name, /^[a-z][a-z0-9-]{0,62}$/, `${name}: a DNS-1123 name`);
    for (const [key, value] of Object.entries(fn)) {
      t.equal(typeof value, allowed[key] ?? 'unknown field', `${name}.${key} is a known field of the right type`);
    }
    for (const key of ['environment', 'labels', 'annotations'] as const) {
      for (const [k, v] of Object.entries((fn[key] ?? {}) as Record<string, unknown>)) t.equal(typeof v, 'string', `${name}.${key}.${k} is a string`);
    }
    t.equal(fn.lang, 'mlp-node20');
    t.equal(fn.handler, `./functions/${name}`);
    const route = fns.find((f) => f.route.name === name)?.route;
    if (route?.maxScale) t.match(fn.labels, { 'com.openfaas.scale.max': String(route.maxScale) }, `${name}: at most ${route.maxScale} instance(s)`);
    if (route?.schedule) t.match(fn.annotations, { topic: 'cron-function', schedule: route.schedule.cron }, `${name}: scheduled by the cron-connector`);
  }
});
