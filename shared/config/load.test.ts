import t from 'tap';
import { appGatewayUrl, loadConfig } from './load.js';
import { ConfigError } from '../core/errors.js';

t.test('defaults follow docs/api.md#resources and docs/configuration.md', async (t) => {
  const c = loadConfig({}, '/srv');
  t.equal(c.root, '/srv/.mlp');
  t.equal(c.port, 30001);
  t.equal(c.appPort, 30002);
  t.same(c.tenant, { cpu: 10, gpu: 16, ram: 10000, rom: 107374182400 });
  t.equal(c.tokenTtl, 86400);
  t.equal(c.tccTimeout, 60);
  t.equal(c.datasetStale, 3600);
  t.equal(c.queueReserve, 600);
  t.equal(c.homeQuota, 1073741824);
  t.equal(c.maxObjectsPerUser, 1000);
  t.equal(c.jobSandbox, 'on');
  t.equal(c.orchestrator, 'local');
  t.equal(c.mongoUrl, undefined);
  t.equal(c.mongoLease, 3);
  t.equal(c.kafkaBrokers, undefined);
});

t.test('values are parsed and every problem is reported at once', async (t) => {
  const c = loadConfig({ MLP_KAFKA_BROKERS: 'a:9092, b:9093', MLP_TENANT_CPU: '0.5', MLP_MONGO_URL: 'mongodb://db/x' });
  t.same(c.kafkaBrokers, ['a:9092', 'b:9093']);
  t.equal(c.tenant.cpu, 0.5);
  try {
    loadConfig({
      MLP_TENANT_GPU: '1.5',
      MLP_TENANT_RAM: '99',
      MLP_TOKEN_TTL: '0',
      MLP_SECRET: 'short',
      MLP_MONGO_URL: 'http://x',
      MLP_KAFKA_BROKERS: 'nohost',
      MLP_JOB_SANDBOX: 'maybe',
      MLP_HOME_QUOTA: '-1',
    });
    t.fail('should have thrown');
  } catch (err) {
    t.type(err, ConfigError);
    t.equal((err as ConfigError).problems.length, 8);
    t.match((err as Error).message, /MLP_TENANT_GPU=1.5/);
    t.notOk((err as Error).message.includes('http://x'), 'the store URL, which may hold a password, is not repeated');
  }
});

t.test('Kubernetes settings: defaults, values, and refusals', async (t) => {
  t.same(
    loadConfig({}).kube,
    {
      namespace: 'mlp',
      jobImages: { tf: 'mlp/runtime-tf:0.1.0', torch: 'mlp/runtime-torch:0.1.0' },
      modelServerImage: 'mlp/model-server-tf:0.1.0',
      claim: 'mlp-nfs',
      imageRoot: '/opt/mlp',
      endpoint: 'service',
    },
    'no ingress class unless set',
  );
  const c = loadConfig({
    MLP_KUBE_NAMESPACE: 'ml-team',
    MLP_KUBE_JOB_IMAGE: 'reg/j:1',
    MLP_KUBE_MODEL_SERVER_IMAGE: 'reg/m:2',
    MLP_KUBE_CLAIM: 'nfs2',
    MLP_KUBE_IMAGE_ROOT: '/srv/mlp',
    MLP_KUBE_ENDPOINT: 'pod',
    MLP_KUBE_INGRESS_CLASS: 'nginx',
  });
  t.same(c.kube, {
    namespace: 'ml-team',
    jobImages: { tf: 'reg/j:1', torch: 'mlp/runtime-torch:0.1.0' },
    modelServerImage: 'reg/m:2',
    claim: 'nfs2',
    imageRoot: '/srv/mlp',
    endpoint: 'pod',
    ingressClass: 'nginx',
  });
  try {
    loadConfig({ MLP_KUBE_ENDPOINT: 'dns', MLP_KUBE_NAMESPACE: 'Not_A_Label', MLP_KUBE_IMAGE_ROOT: 'opt/mlp' });
    t.fail('should have thrown');
  } catch (err) {
    t.type(err, ConfigError);
    t.same(
      (err as ConfigError).problems.map((p) => p.split('=')[0]),
      ['MLP_KUBE_ENDPOINT', 'MLP_KUBE_NAMESPACE', 'MLP_KUBE_IMAGE_ROOT'],
    );
  }
});

t.test('MLP_APP_URL: an http(s) base URL, trailing slash stripped; unset, the local app gateway', async (t) => {
  t.equal(loadConfig({}).appUrl, undefined);
  t.equal(appGatewayUrl(loadConfig({})), 'http://127.0.0.1:30002', 'default: the app gateway on MLP_APP_PORT');
  t.equal(appGatewayUrl(loadConfig({ MLP_APP_PORT: '35302' })), 'http://127.0.0.1:35302');
  t.equal(appGatewayUrl(loadConfig({ MLP_APP_PORT: '0' }), 41234), 'http://127.0.0.1:41234', 'the port listened on when MLP_APP_PORT picks one');
  t.equal(appGatewayUrl(loadConfig({ MLP_HOST: '0.0.0.0' })), 'http://127.0.0.1:30002', 'a wildcard listen address is not a URL to call');
  t.equal(loadConfig({ MLP_APP_URL: 'https://apps.example.com/' }).appUrl, 'https://apps.example.com');
  t.equal(loadConfig({ MLP_APP_URL: 'http://gw:8080/mlp//' }).appUrl, 'http://gw:8080/mlp', 'a path is kept');
  t.equal(appGatewayUrl(loadConfig({ MLP_APP_URL: 'https://apps.example.com', MLP_APP_PORT: '35302' }), 35302), 'https://apps.example.com', 'MLP_APP_URL wins over the port');
  for (const bad of ['apps.example.com', 'ftp://apps.example.com', 'http://apps.example.com/?x=1', 'http://apps.example.com/#top', 'http://', 'not a url']) {
    try {
      loadConfig({ MLP_APP_URL: bad });
      t.fail(`${bad} should be refused`);
    } catch (err) {
      t.type(err, ConfigError);
      t.match((err as ConfigError).problems, [/^MLP_APP_URL=.*: must/], `${bad} is refused, naming MLP_APP_URL`);
    }
  }
  try {
    loadConfig({ MLP_APP_URL: 'https://user:hunter2@apps.example.com' });
    t.fail('credentials should be refused');
  } catch (err) {
    t.same((err as ConfigError).problems, ['MLP_APP_URL: must not hold a user name or password']);
    t.notOk((err as Error).message.includes('hunter2'), 'the password is not repeated');
  }
});
