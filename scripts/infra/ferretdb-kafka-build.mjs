// What scripts/infra/up.mjs needs before it starts a server: Java, Maven, Go and kcat, the FerretDB
// binary built from ferretdb/ and the Kafka jars fetched for kafka/pom.xml, both cached and rebuilt
// only when their sources change.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDebianPackages } from '../lib/setup.mjs';
import { runQuiet } from './lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
// Versions come from the files that pin them, so there is one place to change each.
const FERRETDB_VERSION = fs.readFileSync(path.join(HERE, 'ferretdb', 'go.mod'), 'utf8').match(/github\.com\/FerretDB\/FerretDB (v\S+)/)[1];
const KAFKA_POM = path.join(HERE, 'kafka', 'pom.xml');
const KAFKA_VERSION = fs.readFileSync(KAFKA_POM, 'utf8').match(/<kafka\.version>([^<]+)</)[1];

// ---------------------------------------------------------------- prerequisites

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function ensurePrerequisites({ needGo, needMvn, log }) {
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
export function defaultCacheDir() {
  return process.env.MLP_INFRA_CACHE || path.join(os.homedir(), '.cache', 'mlp-infra');
}

const FERRETDB_SOURCES = ['main.go', 'go.mod', 'go.sum'].map((f) => path.join(HERE, 'ferretdb', f));
const sourcesHash = (files) => {
  const h = crypto.createHash('sha256');
  for (const f of files) h.update(fs.readFileSync(f));
  return h.digest('hex');
};
const ferretdbStamp = (cacheDir) => `${ferretdbBinary(cacheDir)}.sources`;

export function ferretdbIsBuilt(cacheDir) {
  const stamp = ferretdbStamp(cacheDir);
  return fs.existsSync(ferretdbBinary(cacheDir)) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === sourcesHash(FERRETDB_SOURCES);
}

export async function buildFerretdb(cacheDir, log) {
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

export function kafkaLib(cacheDir) {
  return path.join(cacheDir, `kafka-${KAFKA_VERSION}`, 'lib');
}

// The marker holds a hash of the pom, so editing the pom refetches the jars.
const kafkaMarker = (cacheDir) => path.join(cacheDir, `kafka-${KAFKA_VERSION}`, 'complete');

export function kafkaIsFetched(cacheDir) {
  const marker = kafkaMarker(cacheDir);
  return fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === sourcesHash([KAFKA_POM]);
}

export async function fetchKafka(cacheDir, log) {
  const lib = kafkaLib(cacheDir);
  log(`fetching Kafka ${KAFKA_VERSION} jars from Maven Central (first run only, ~1 min)…`);
  // Copy into a temp dir and swap it in, so a half-copied lib dir is never used.
  const tmp = `${lib}.tmp-${process.pid}`;
  await runQuiet('mvn', ['-q', '-B', '-f', KAFKA_POM, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${tmp}`]);
  fs.rmSync(lib, { recursive: true, force: true });
  fs.renameSync(tmp, lib);
  fs.writeFileSync(kafkaMarker(cacheDir), `${sourcesHash([KAFKA_POM])}\n`);
}
