// Starts a real MongoDB-compatible server (FerretDB 1.24, SQLite backend) and a
// real single-node Kafka (KRaft) on free loopback ports, for MLP's tests.
//
//   import { infraUp } from './scripts/infra/up.mjs';
//   const { env, stop } = await infraUp();   // env.MLP_MONGO_URL, env.MLP_KAFKA_BROKERS
//   ...; await stop();
//
// As a CLI (`npm run infra:up`) it starts both detached, records them in
// .mlp/infra/state.json, prints the env lines on stdout and exits;
// `npm run infra:down` stops them. `npm run infra:up -- --kube` also starts a real
// kube-apiserver with kube-controller-manager (scripts/infra/kube.mjs) and prints KUBECONFIG and
// MLP_KUBE_* lines.
// Facts behind the choices: shared/docs/infra.md.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { ensureDebianPackages } from '../lib/setup.mjs';
import { DEFAULT_STATE_DIR, REPO_ROOT, guardRun, isAlive, log as defaultLog, pruneRuns, freePorts, newRun, reapOrphans, readJson, runQuiet, sleep, stopRecord, tail, writeJson } from './lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
// Versions come from the files that pin them, so there is one place to change each.
const FERRETDB_VERSION = fs.readFileSync(path.join(HERE, 'ferretdb', 'go.mod'), 'utf8').match(/github\.com\/FerretDB\/FerretDB (v\S+)/)[1];
const KAFKA_POM = path.join(HERE, 'kafka', 'pom.xml');
const KAFKA_VERSION = fs.readFileSync(KAFKA_POM, 'utf8').match(/<kafka\.version>([^<]+)</)[1];

// ---------------------------------------------------------------- prerequisites

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function ensurePrerequisites({ needGo, needMvn, log }) {
  const pkgs = ['kcat']; // independent Kafka client the tests use as a producer
  // Java and Maven come from Debian if absent (default-jre-headless is 17 on bookworm).
  if (!has('java')) pkgs.push('default-jre-headless');
  if (needMvn && !has('mvn')) pkgs.push('maven');
  ensureDebianPackages(pkgs, log);

  const jv = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const major = Number((jv.stderr.match(/version "(\d+)/) ?? [])[1]);
  if (!(major >= 17)) throw new Error(`Kafka here is run on Java 17+, but \`java -version\` says: ${jv.stderr.split('\n')[0]}`);

  // Debian's golang (1.19 on bookworm) is too old for FerretDB 1.24 (needs Go 1.24),
  // so Go is not auto-installed: it is a prerequisite of the machine image.
  if (needGo && !has('go')) {
    throw new Error(
      '`go` is not on PATH; building FerretDB needs Go >= 1.21 (it fetches the 1.24 toolchain ' + 'itself through the Go module proxy). Install Go from go.dev or put /usr/local/go/bin on PATH.',
    );
  }
}

// -------------------------------------------------------------- cached builds

/** Where the built FerretDB wrapper lives (tests that stop and restart their own server use it). */
export function ferretdbBinary(cacheDir = defaultCacheDir()) {
  return path.join(cacheDir, `ferretdb-${FERRETDB_VERSION}`, 'ferretdb');
}

// A stamp next to the binary records a hash of the sources it was built from.
// A hash, not mtimes: a fresh clone (as CI makes) has new mtimes but the same sources.
function defaultCacheDir() {
  return process.env.MLP_INFRA_CACHE || path.join(os.homedir(), '.cache', 'mlp-infra');
}

const FERRETDB_SOURCES = ['main.go', 'go.mod', 'go.sum'].map((f) => path.join(HERE, 'ferretdb', f));
const sourcesHash = (files) => {
  const h = crypto.createHash('sha256');
  for (const f of files) h.update(fs.readFileSync(f));
  return h.digest('hex');
};
const ferretdbStamp = (cacheDir) => `${ferretdbBinary(cacheDir)}.sources`;

function ferretdbIsBuilt(cacheDir) {
  const stamp = ferretdbStamp(cacheDir);
  return fs.existsSync(ferretdbBinary(cacheDir)) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === sourcesHash(FERRETDB_SOURCES);
}

async function buildFerretdb(cacheDir, log) {
  const bin = ferretdbBinary(cacheDir);
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  log('building FerretDB (first run only, ~2 min)…');
  const t0 = Date.now();
  const hash = sourcesHash(FERRETDB_SOURCES);
  // Build to a temp name and rename, so an interrupted (or concurrent) build never looks finished.
  const tmp = `${bin}.tmp-${process.pid}`;
  await runQuiet('go', ['build', '-trimpath', '-o', tmp, '.'], { cwd: path.join(HERE, 'ferretdb') });
  fs.renameSync(tmp, bin);
  fs.writeFileSync(ferretdbStamp(cacheDir), `${hash}\n`);
  log(`built ${bin} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

function kafkaLib(cacheDir) {
  return path.join(cacheDir, `kafka-${KAFKA_VERSION}`, 'lib');
}

// The marker holds a hash of the pom, so editing the pom refetches the jars.
const kafkaMarker = (cacheDir) => path.join(cacheDir, `kafka-${KAFKA_VERSION}`, 'complete');

function kafkaIsFetched(cacheDir) {
  const marker = kafkaMarker(cacheDir);
  return fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === sourcesHash([KAFKA_POM]);
}

async function fetchKafka(cacheDir, log) {
  const lib = kafkaLib(cacheDir);
  log(`fetching Kafka ${KAFKA_VERSION} jars from Maven Central (first run only, ~1 min)…`);
  // Copy into a temp dir and swap it in, so a half-copied lib dir is never used.
  const tmp = `${lib}.tmp-${process.pid}`;
  await runQuiet('mvn', ['-q', '-B', '-f', KAFKA_POM, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${tmp}`]);
  fs.rmSync(lib, { recursive: true, force: true });
  fs.renameSync(tmp, lib);
  fs.writeFileSync(kafkaMarker(cacheDir), `${sourcesHash([KAFKA_POM])}\n`);
}

// ------------------------------------------------------------------- servers

// Kafka cluster ids are 16 random bytes in URL-safe base64 without padding;
// Kafka itself never hands out one starting with "-" (it reads as a CLI flag).
function kafkaClusterId() {
  for (;;) {
    const id = crypto.randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function kafkaProperties({ brokerPort, controllerPort, dataDir }) {
  return `${[
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${brokerPort}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1', // the default 50 makes the first consumer group slow to start
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0', // tests' consumers join at once instead of after 3 s
  ].join('\n')}\n`;
}

// Kafka 3.x logs through log4j 1.x (reload4j). Broker INFO is useful in the log
// when a start fails; the chattiest loggers are turned down.
const LOG4J = `${[
  'log4j.rootLogger=INFO, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
  'log4j.logger.org.apache.kafka.clients=WARN',
  'log4j.logger.org.apache.kafka.common.config=WARN',
  'log4j.logger.kafka.log=WARN',
  'log4j.logger.state.change.logger=WARN',
].join('\n')}\n`;

function javaArgs(runDir, lib, mainClass, args, heap) {
  return [...heap, `-Dlog4j.configuration=file:${path.join(runDir, 'log4j.properties')}`, '-Djava.awt.headless=true', '-XX:+ExitOnOutOfMemoryError', '-cp', `${lib}/*`, mainClass, ...args];
}

async function waitForMongo(url, proc, logFile, deadline) {
  let lastErr;
  while (Date.now() < deadline) {
    if (!isAlive(proc.pid)) throw new Error(`FerretDB exited during start\n${tail(logFile)}`);
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      return;
    } catch (err) {
      lastErr = err;
    } finally {
      await client.close();
    }
    await sleep(250);
  }
  throw new Error(`FerretDB did not answer ping at ${url} in time (last error: ${lastErr?.message})\n${tail(logFile)}`);
}

function withDeadline(promise, deadline, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out`)), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Ready means a real round trip: create a topic, produce to it, consume it back.
// Every step is bounded by the deadline and the clients are always disconnected:
// a kafkajs consumer left running against a dead broker retries forever and
// keeps the process alive.
async function kafkaRoundTrip(broker, runId, deadline) {
  const kafka = new Kafka({
    clientId: 'mlp-infra-probe',
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    retry: { retries: 3, initialRetryTime: 200 },
  });
  const topic = `mlp-infra-probe-${runId}`;
  const groupId = `mlp-infra-probe-${runId}`;
  const token = crypto.randomUUID();
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10000,
    heartbeatInterval: 1000,
    retry: { retries: 3, restartOnFailure: async () => false }, // fail this attempt; the caller retries
  });
  const step = (what, promise) => withDeadline(promise, deadline, what);
  try {
    await step('admin connect', admin.connect());
    await step(
      'create topic',
      admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
        waitForLeaders: true,
      }),
    );
    await step('producer connect', producer.connect());
    await step('produce', producer.send({ topic, messages: [{ value: token }] }));
    await step('consumer connect', consumer.connect());
    await step('subscribe', consumer.subscribe({ topics: [topic], fromBeginning: true }));
    await step(
      'consume the probe message',
      new Promise((resolve, reject) => {
        consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
        consumer
          .run({
            eachMessage: async ({ message }) => {
              if (message.value?.toString() === token) resolve();
            },
          })
          .catch(reject);
      }),
    );
    await step('disconnect consumer', consumer.disconnect());
    // Leave the broker as tests expect it: no probe topic or group.
    await step('delete probe group', admin.deleteGroups([groupId]));
    await step('delete probe topic', admin.deleteTopics({ topics: [topic] }));
  } finally {
    // allSettled: disconnecting clients that never connected may fail; that is not news.
    const results = await Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect()]);
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) defaultLog(`kafka probe: disconnect failed: ${failed.map((r) => r.reason.message).join('; ')}`);
  }
}

async function waitForKafka(broker, runId, proc, logFile, deadline) {
  let lastErr;
  while (Date.now() < deadline) {
    if (!isAlive(proc.pid)) throw new Error(`Kafka exited during start\n${tail(logFile)}`);
    try {
      await kafkaRoundTrip(broker, runId, deadline);
      return;
    } catch (err) {
      lastErr = err;
    }
    await sleep(500);
  }
  throw new Error(`Kafka at ${broker} did not pass a produce/consume round trip in time ` + `(last error: ${lastErr?.message})\n${tail(logFile)}`);
}

// ---------------------------------------------------------------------- API

/**
 * Start FerretDB and Kafka for tests.
 * @param {object} [opts]
 * @param {boolean} [opts.mongo=true]   start FerretDB
 * @param {boolean} [opts.kafka=true]   start Kafka
 * @param {string}  [opts.cacheDir]     built binaries and jars ($MLP_INFRA_CACHE or ~/.cache/mlp-infra)
 * @param {string}  [opts.stateDir]     logs and state records (<repo>/.mlp/infra)
 * @param {number}  [opts.timeoutMs=120000] limit for each server to become ready
 * @param {boolean} [opts.detached=false] leave servers running after this process exits (CLI mode)
 * @param {(msg: string) => void} [opts.log] progress lines (default: stderr)
 * @returns {Promise<{env: {MLP_MONGO_URL?: string, MLP_KAFKA_BROKERS?: string},
 *   stop: () => Promise<void>, runDir: string, record: object}>}
 */
export async function infraUp(opts = {}) {
  const { mongo = true, kafka = true, detached = false, timeoutMs = 120_000, log = defaultLog, cacheDir = defaultCacheDir(), stateDir = DEFAULT_STATE_DIR } = opts;

  const needGo = mongo && !ferretdbIsBuilt(cacheDir);
  const needMvn = kafka && !kafkaIsFetched(cacheDir);
  ensurePrerequisites({ needGo, needMvn, log });
  await reapOrphans(stateDir);
  pruneRuns(stateDir);
  // Both builds are mostly network + one core each; run them side by side.
  await Promise.all([needGo && buildFerretdb(cacheDir, log), needMvn && fetchKafka(cacheDir, log)]);

  const { runId, runDir, dataRoot, record, save, children, startServer } = newRun({ stateDir, detached, dataPrefix: 'mlp-infra-' });

  const { stop, release } = guardRun(record, save);

  try {
    const [mongoPort, brokerPort, controllerPort] = await freePorts(3);
    const waits = [];
    if (mongo) {
      // SQLite backend, not PostgreSQL: on neither does FerretDB 1.24 read a page through an index
      // (PostgreSQL only filters a top-level equality by Seq Scan), and SQLite needs no server
      // (scripts/bench/paging-ferretdb.ts measures both; test/contract/paging.test.ts says why).
      const bin = ferretdbBinary(cacheDir);
      const sqliteDir = path.join(dataRoot, 'ferretdb');
      fs.mkdirSync(sqliteDir);
      const { proc, logFile } = startServer('ferretdb', bin, ['-listen', `127.0.0.1:${mongoPort}`, '-sqlite-dir', sqliteDir], bin);
      const url = `mongodb://127.0.0.1:${mongoPort}/`;
      waits.push(
        waitForMongo(url, proc, logFile, Date.now() + Math.min(timeoutMs, 60_000)).then(() => {
          record.env.MLP_MONGO_URL = url;
        }),
      );
    }
    if (kafka) {
      const lib = kafkaLib(cacheDir);
      const logsDir = path.join(dataRoot, 'kafka');
      const props = path.join(runDir, 'server.properties');
      fs.writeFileSync(props, kafkaProperties({ brokerPort, controllerPort, dataDir: logsDir }));
      fs.writeFileSync(path.join(runDir, 'log4j.properties'), LOG4J);
      const formatLog = path.join(runDir, 'kafka-format.log');
      const fd = fs.openSync(formatLog, 'a');
      const fmt = spawnSync('java', javaArgs(runDir, lib, 'kafka.tools.StorageTool', ['format', '-t', kafkaClusterId(), '-c', props, '--ignore-formatted'], ['-Xmx256m']), {
        stdio: ['ignore', fd, fd],
        timeout: 60_000,
      });
      fs.closeSync(fd);
      if (fmt.status !== 0) throw new Error(`formatting Kafka storage failed\n${tail(formatLog)}`);
      const { proc, logFile } = startServer('kafka', 'java', javaArgs(runDir, lib, 'kafka.Kafka', [props], ['-Xmx512m', '-Xms256m']), 'kafka.Kafka');
      const broker = `127.0.0.1:${brokerPort}`;
      waits.push(
        waitForKafka(broker, runId, proc, logFile, Date.now() + timeoutMs).then(() => {
          record.env.MLP_KAFKA_BROKERS = broker;
        }),
      );
    }
    // allSettled: wait for both, so a failure does not leave the other still probing.
    const results = await Promise.allSettled(waits);
    const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
    if (failures.length) throw new Error(failures.map((e) => e.message).join('\n\n'));
  } catch (err) {
    await stop();
    throw err;
  }

  save();
  if (detached) {
    release(); // the whole point of the CLI: servers outlive it
    for (const c of children) c.unref();
  }
  return { env: { ...record.env }, stop, runDir, record };
}

// ---------------------------------------------------------------------- CLI

async function main() {
  const t0 = Date.now();
  const stateFile = path.join(DEFAULT_STATE_DIR, 'state.json');
  const previous = readJson(stateFile);
  if (previous && !previous.stopped && (previous.processes ?? []).some((p) => isAlive(p.pid))) {
    defaultLog(`stopping the servers of the previous \`infra:up\` (run ${previous.runId})`);
    await stopRecord(previous);
  }
  const { env, record } = await infraUp({ detached: true });
  if (process.argv.includes('--kube')) {
    // A real kube-apiserver on kine too (scripts/infra/kube.mjs; the first run builds it, ~20 min).
    // Its processes join this run's record, so `npm run infra:down` stops them as well.
    const { startKube } = await import('./kube.mjs');
    try {
      const kube = await startKube({ detached: true, controllers: true });
      record.processes.push(...kube.record.processes);
      record.dataDirs.push(...kube.record.dataDirs);
      Object.assign(record.logs, kube.record.logs);
      Object.assign(record.env, kube.env);
      Object.assign(env, kube.env);
    } catch (err) {
      await stopRecord(record);
      throw err;
    }
  }
  writeJson(stateFile, record);
  for (const [k, v] of Object.entries(env)) process.stdout.write(`${k}=${v}\n`);
  defaultLog(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; logs in ${path.relative(REPO_ROOT, path.dirname(record.logs.kafka ?? record.logs.ferretdb))}; stop with: npm run infra:down`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0), // do not wait for driver sockets/timers: the servers are detached
    (err) => {
      process.stderr.write(`infra: ${err.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
