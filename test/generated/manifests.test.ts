import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Service } from '@kubernetes-models/knative/serving.knative.dev/v1';
import { PingSource } from '@kubernetes-models/knative/sources.knative.dev/v1';
import { Ajv } from 'ajv';
import { Pod } from 'kubernetes-models/v1';
import t from 'tap';
import { parseAllDocuments, parse } from 'yaml';
import { loadFunctions } from '../../shared/routes/registry.js';
import { SECRET_SOURCES, secretsOf, type SecretName } from '../../shared/config/secrets.js';
import { SETTINGS } from '../../shared/config/settings.js';
import { usesOf, type Use } from '../../shared/wiring/uses.js';
import { SHARED_ENV } from '../../scripts/gen/deploy-facts.js';

// The generated deployment files, validated offline: Knative manifests against the published
// Knative schemas (kubernetes-models), stack.yml against our JSON Schema of OpenFaaS stack files
// (scripts/gen/stack.schema.json). Only the functions marked `orchestrator` get an API token.
// Knative's schema leaves a pod's securityContext unchecked (feature-flagged fields), so each
// Service's pod template is also validated as a Kubernetes Pod.
const ROOT = path.resolve(import.meta.dirname, '../..');

/** Kubernetes / OpenFaaS secret names of what a function needs (shared/config/secrets.ts). */
const secretNames = (names: SecretName[]) => names.map((n) => SECRET_SOURCES[n].secret).sort();
// Spot checks, each read off the function's handler (a function once got every secret).
const EXPECTED: Record<string, string[]> = {
  'users-create': [],
  'web-index': [],
  'users-auth': ['mlp-secret'],
  'users-token': ['mlp-secret'],
  'users-get': ['mlp-secret'],
  'jobs-create': ['mlp-secret'],
  'jobs-reconcile': ['mlp-secret', 'mlp-service-token'],
  'resources-try': ['mlp-service-token'],
  'resources-confirm': ['mlp-service-token'],
  'resources-cancel': ['mlp-service-token'],
  'resources-reconcile': ['mlp-service-token'],
  'apps-watch': ['mlp-service-token'],
};

type Container = {
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string; optional?: boolean } } }[];
  envFrom?: Record<string, { name: string }>[];
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
};
type PodSpec = {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes?: { name: string; emptyDir?: object; persistentVolumeClaim?: { claimName: string } }[];
};
/** MongoDB's URL with its credentials (docs/deploy.md): the one secret every function gets, beside secretsOf's. */
const MONGO_URL_REF = { name: 'mlp-mongo-auth', key: 'url' };

/** A Knative container as its pod has it: Knative names it and points httpGet probes without a port at the container's. */
function asKnativeRunsIt(c: Container & { ports?: { containerPort: number }[]; readinessProbe?: { httpGet?: object }; livenessProbe?: { httpGet?: object } }) {
  const port = c.ports?.[0]?.containerPort;
  const probe = (p?: { httpGet?: object }) => (p?.httpGet ? { ...p, httpGet: { port, ...p.httpGet } } : p);
  return { name: 'user-container', ...c, readinessProbe: probe(c.readinessProbe), livenessProbe: probe(c.livenessProbe) };
}

/** The uid of the function image's user: templates/mlp-node20/Dockerfile ends as `node`, uid 1000 in the node images. */
function functionImageUid(): number {
  const users = [...readFileSync(path.join(ROOT, 'templates/mlp-node20/Dockerfile'), 'utf8').matchAll(/^USER\s+(\S+)\s*$/gm)].map((m) => m[1]);
  const last = users.at(-1);
  return last === 'node' ? 1000 : Number(last);
}

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
      if (obj.kind === 'Service' && route) {
        const service = obj as unknown as { metadata: { name: string; labels: Record<string, string> }; spec: { template: { spec: PodSpec } } };
        t.equal(service.metadata.labels['networking.knative.dev/visibility'], 'cluster-local', `${file}: cluster-local (the gateway is the only way in)`);
        const podSpec = service.spec.template.spec;
        const [container] = podSpec.containers;
        const env = container?.env ?? [];
        // As Knative makes the pod: the container named user-container, the probes on its port.
        const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: service.metadata.name }, spec: { ...podSpec, containers: podSpec.containers.map(asKnativeRunsIt) } };
        t.doesNotThrow(() => new Pod(pod as never).validate(), `${file}: the pod template is a valid Kubernetes pod spec`);

        // The store's URL carries MongoDB's credentials: from the Secret mlp-mongo-auth (key url) and
        // nowhere else (mlp-config's MLP_MONGO_URL is the address alone), and only where the store is opened.
        const mongo = env.filter((e) => e.name === 'MLP_MONGO_URL');
        if (usesOf(route).includes('store')) t.same(mongo, [{ name: 'MLP_MONGO_URL', valueFrom: { secretKeyRef: MONGO_URL_REF } }], `${file}: MLP_MONGO_URL from mlp-mongo-auth/url, once`);
        else t.same(mongo, [], `${file}: opens no store, so no MLP_MONGO_URL`);
        // Configuration key by key from mlp-config: every deployed setting the function reads, no other.
        const fromConfig = env.filter((e) => e.valueFrom?.configMapKeyRef);
        t.ok(
          fromConfig.every((e) => e.valueFrom?.configMapKeyRef?.name === 'mlp-config' && e.valueFrom.configMapKeyRef.key === e.name),
          `${file}: each setting from mlp-config under its own name`,
        );
        const expected = SHARED_ENV.filter((name) => {
          const use = (SETTINGS[name as keyof typeof SETTINGS] as { use?: Use }).use;
          return name !== 'MLP_MONGO_URL' && (use === undefined || usesOf(route).includes(use));
        });
        t.same(fromConfig.map((e) => e.name).sort(), expected.sort(), `${file}: the settings of what it uses (${usesOf(route).join(', ') || 'no port'})`);
        const refs = env.filter((e) => e.valueFrom?.secretKeyRef && e.valueFrom.secretKeyRef.name !== MONGO_URL_REF.name);
        t.notOk(
          env.some((e) => e.valueFrom?.secretKeyRef?.name === MONGO_URL_REF.name && e.name !== 'MLP_MONGO_URL'),
          `${file}: nothing else of mlp-mongo-auth (not Mongo's root user or password)`,
        );
        t.same(refs.map((e) => e.valueFrom?.secretKeyRef?.name).sort(), secretNames(secretsOf(route)), `${file}: exactly the secrets its route needs`);
        if (EXPECTED[route.name]) t.same(refs.map((e) => e.valueFrom?.secretKeyRef?.name).sort(), EXPECTED[route.name], `${file}: ${EXPECTED[route.name]?.join(', ') || 'no secret'}`);
        for (const e of refs) {
          const source = Object.values(SECRET_SOURCES).find((s) => s.secret === e.valueFrom?.secretKeyRef?.name);
          t.same({ name: e.name, ref: e.valueFrom?.secretKeyRef }, { name: source?.env, ref: { name: source?.secret, key: source?.secret } }, `${file}: ${e.name} from its own Secret`);
        }
        t.notOk(
          env.some((e) => /SECRET|TOKEN|MONGO_URL/.test(e.name) && e.value !== undefined),
          `${file}: no secret as a plain value`,
        );
        t.notOk(
          env.some((e) => /:\/\/[^/\s]*@/.test(e.value ?? '')),
          `${file}: no URL with credentials as a plain value`,
        );
        t.equal(container?.envFrom, undefined, `${file}: nothing taken wholesale (no ConfigMap or Secret whole)`);
        if (route.orchestrator) t.same([podSpec.serviceAccountName, podSpec.automountServiceAccountToken], ['mlp-orchestrator', undefined], `${file}: runs as mlp-orchestrator`);
        else t.same([podSpec.serviceAccountName, podSpec.automountServiceAccountToken], [undefined, false], `${file}: no API token`);

        // Not root (a uid the kubelet can check: the image's USER is a name), the runtime's seccomp
        // profile; the container unprivileged, every capability dropped, on a read-only root.
        t.match(
          podSpec.securityContext,
          { runAsNonRoot: true, runAsUser: functionImageUid(), seccompProfile: { type: 'RuntimeDefault' } },
          `${file}: pod not root (uid ${functionImageUid()}), RuntimeDefault seccomp`,
        );
        t.equal(podSpec.containers.length, 1, `${file}: one container`);
        t.match(container?.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false }, `${file}: no privilege escalation, not privileged, read-only root`);
        t.same(container?.securityContext?.capabilities, { drop: ['ALL'] }, `${file}: every capability dropped, none added`);
        t.notOk(container?.securityContext?.runAsUser === 0 || container?.securityContext?.runAsNonRoot === false, `${file}: the container does not undo the pod's non-root`);

        // What it may write: the NFS claim at MLP_ROOT and an emptyDir at /tmp, nothing else.
        const volumes = podSpec.volumes ?? [];
        const mounted = (mountPath: string) => volumes.find((v) => v.name === container?.volumeMounts?.find((m) => m.mountPath === mountPath)?.name);
        t.same(mounted('/tmp'), { name: mounted('/tmp')?.name, emptyDir: {} }, `${file}: an emptyDir at /tmp`);
        t.same(mounted('/mlp')?.persistentVolumeClaim, { claimName: 'mlp-nfs' }, `${file}: the NFS claim at /mlp`);
        t.same(container?.volumeMounts?.map((m) => m.mountPath).sort(), ['/mlp', '/tmp'], `${file}: no other mount`);
        t.same(volumes.map((v) => v.name).sort(), container?.volumeMounts?.map((m) => m.name).sort(), `${file}: no volume it does not mount`);
      }
      if (obj.kind === 'Service' && route?.maxScale) {
        t.match(obj, { spec: { template: { metadata: { annotations: { 'autoscaling.knative.dev/max-scale': String(route.maxScale) } } } } }, `${file}: max-scale ${route.maxScale}`);
      }
    }
  }
  t.throws(() => new Service({ metadata: { name: 'x' }, spec: { template: { spec: { containers: 'nope' } } } } as never).validate(), 'the validator does reject a bad manifest');
  t.throws(
    () => new Pod({ metadata: { name: 'x' }, spec: { securityContext: { runAsNonRoot: 'yes' }, containers: [{ name: 'c', image: 'i', securityContext: { privileged: 'no' } }] } } as never).validate(),
    'the pod validator does reject a bad security context',
  );
});

t.test("stack.yml follows OpenFaaS's stack format and covers every function", async (t) => {
  const fns = await loadFunctions();
  const stack = parse(readFileSync(path.join(ROOT, 'stack.yml'), 'utf8')) as {
    version: string;
    provider: { name: string; gateway: string };
    functions: Record<string, Record<string, unknown>>;
  };
  t.equal(stack.version, '1.0');
  t.equal(stack.provider.name, 'openfaas');
  t.same(Object.keys(stack.functions).sort(), fns.map((f) => f.route.name).sort());
  const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(path.join(ROOT, 'scripts/gen/stack.schema.json'), 'utf8')) as object);
  t.ok(validate(stack), `valid against scripts/gen/stack.schema.json${validate.errors ? `: ${JSON.stringify(validate.errors.slice(0, 3))}` : ''}`);
  const broken = structuredClone(stack) as { functions: Record<string, Record<string, unknown>> };
  const first = Object.keys(broken.functions)[0] ?? '';
  broken.functions[first] = { ...broken.functions[first], enviroment: { A: 'b' }, skip_build: 'yes' };
  t.notOk(validate(broken), 'the schema does refuse an unknown field and a wrong type');
  t.same(validate.errors?.map((e) => e.keyword).sort(), ['additionalProperties', 'type']);
  for (const [name, fn] of Object.entries(stack.functions)) {
    t.equal(fn.lang, 'mlp-node20');
    t.equal(fn.handler, `./functions/${name}`);
    const route = fns.find((f) => f.route.name === name)?.route;
    if (route?.maxScale) t.match(fn.labels, { 'com.openfaas.scale.max': String(route.maxScale) }, `${name}: at most ${route.maxScale} instance(s)`);
    if (route?.schedule) t.match(fn.annotations, { topic: 'cron-function', schedule: route.schedule.cron }, `${name}: scheduled by the cron-connector`);
    const account = (fn.annotations as Record<string, string> | undefined)?.['com.openfaas.serviceaccount'];
    t.equal(account, route?.orchestrator ? 'mlp-orchestrator' : undefined, `${name}: ${route?.orchestrator ? 'runs as mlp-orchestrator' : 'no ServiceAccount of ours'}`);
    // OpenFaaS secrets, mounted at /var/openfaas/secrets/<name>; never a value in the environment.
    const secrets = (fn.secrets ?? []) as string[];
    if (route) t.same([...secrets].sort(), secretNames(secretsOf(route)), `${name}: the OpenFaaS secrets its route needs`);
    if (EXPECTED[name]) t.same([...secrets].sort(), EXPECTED[name], `${name}: ${EXPECTED[name]?.join(', ') || 'no secret'}`);
    const env = (fn.environment ?? {}) as Record<string, string>;
    for (const source of Object.values(SECRET_SOURCES)) t.notOk(source.env in env, `${name}: no ${source.env} in environment`);
    if (route) {
      const kafka = usesOf(route).includes('bus');
      t.equal('MLP_KAFKA_BROKERS' in env, kafka, `${name}: ${kafka ? 'told' : 'not told'} where Kafka is (${usesOf(route).join(', ') || 'no port'})`);
      t.equal('MLP_MONGO_URL' in env, usesOf(route).includes('store'), `${name}: MLP_MONGO_URL only if it opens the store`);
    }
  }
  const text = readFileSync(path.join(ROOT, 'stack.yml'), 'utf8');
  t.notMatch(text, /\$\{MLP_SECRET\}|\$\{MLP_SERVICE_TOKEN\}/, 'no secret substituted from the deploying shell');
});

t.test('the gateway logs requests without their query (no ?token= in the access log)', async (t) => {
  const routes = readFileSync(path.join(ROOT, 'nginx/mlp-routes.conf'), 'utf8');
  const format = /^log_format mlp_gateway (.*);$/m.exec(routes)?.[1] ?? '';
  t.match(format, /\$request_method \$mlp_path /, 'method and the path alone');
  for (const variable of ['$request ', '$request"', '$request_uri', '$query_string', '$args', '$is_args', '$http_referer', '$arg_']) {
    t.notOk(format.includes(variable), `the format has no ${variable.trim()}`);
  }
  // A server's own access_log would replace the one of http {} that uses this format (docs/deploy.md).
  for (const file of ['mlp-server.conf', 'mlp-apps-server.conf', 'upstreams.k8s.conf']) {
    t.notMatch(readFileSync(path.join(ROOT, 'nginx', file), 'utf8'), /^\s*access_log /m, `${file}: no access_log of its own`);
  }
});
