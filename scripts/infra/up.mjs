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
// Why these servers and how each is built: scripts/infra/README.md.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { buildFerretdb, defaultCacheDir, ensurePrerequisites, fetchKafka, ferretdbBinary, ferretdbIsBuilt, kafkaIsFetched, kafkaLib } from './ferretdb-kafka-build.mjs';
import { javaArgs, kafkaClusterId, kafkaProperties, LOG4J, waitForKafka } from './kafka-server.mjs';
import { DEFAULT_STATE_DIR, REPO_ROOT, guardRun, isAlive, log as defaultLog, pruneRuns, freePorts, newRun, reapOrphans, readJson, sleep, stopRecord, tail, writeJson } from './lib.mjs';

export { ferretdbBinary } from './ferretdb-kafka-build.mjs';

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
