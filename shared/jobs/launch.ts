import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Deps } from '../wiring/deps.js';
import { jobsCollection, type JobDoc } from '../records/jobs.js';
import { begin as beginMetrics } from '../metrics/store.js';
import { runtimeFiles } from '../runtimes/sandbox-files.js';
import { storagePaths } from '../storage/paths.js';
import { canMapUids, userHostUid } from '../orchestrator/userns.js';
import { workloadId } from './retry.js';
import { giveTree } from './ownership.js';
import { commandFor, runtimeEnvFor } from './runtime.js';
import { entryKind, PY_HELPER_DIR } from '../runtimes/catalog.js';

const JOB_TOKEN_TTL = 30 * 24 * 3600;

/**
 * Prepares the workspace and starts the entry with the job's environment (docs/api.md#jobs), sandboxed:
 * only its workspace writable; its home, its own datasets and the runtime's files read-only, at
 * the paths its environment names; nothing else of MLP_ROOT. Where the sandbox cannot be had
 * (and the operator did not set MLP_JOB_SANDBOX=off) the job is not run: it ends in error saying why.
 */
export async function launch(job: JobDoc, deps: Deps): Promise<void> {
  const refusal = [deps.jobSandbox, deps.jobLimits].find((c) => c.mode === 'unavailable');
  if (refusal) {
    // Resources are held: releaseEnded gives them back as for any ended job.
    await jobsCollection(deps.store).update(job._id, { state: 'creating' }, { set: { state: 'error', msg: `not run: ${refusal.detail}` } });
    return;
  }
  const python = await pythonFor(job, deps);
  if (python === null) return; // waits for its runtime's environment (or ended for want of it)
  const paths = storagePaths(deps.config.root);
  const workspace = paths.job(job.user, job.name);
  const datasets = path.join(deps.config.root, 'datasets', job.user);
  for (const sub of ['ckpt', 'log', 'metrics']) await mkdir(path.join(workspace, sub), { recursive: true });
  // Locally, where the platform can give a sandbox a uid of its own, the job runs as its user's
  // host uid: its workspace, home and datasets become that uid's (same modes, no one else gains).
  const hostUid = deps.orchestrator.kind === 'local' && deps.jobSandbox.mode === 'on' && canMapUids() ? userHostUid(job.user) : undefined;
  if (hostUid !== undefined) {
    await giveTree(deps.config.root, ['jobs', job.user, job.name], hostUid);
    await giveTree(deps.config.root, ['datasets', job.user], hostUid);
  }
  const { token } = await deps.tokens.issue({ sub: job.user, kind: 'job', job: job.name, job_id: job.uid }, JOB_TOKEN_TTL);
  const env: Record<string, string> = {
    MLP_API: deps.gateway.url,
    MLP_USER: job.user,
    MLP_JOB: job.name,
    MLP_TOKEN: token,
    MLP_WORKSPACE: workspace,
    MLP_HOME: paths.home(job.user),
    MLP_DATASETS: datasets,
    // The job's parameters as a JSON object (a sweep's trial gets its own; a plain job none).
    MLP_PARAMS: JSON.stringify(job.params ?? {}),
    // What the runtime needs besides (NODE_PATH: CommonJS entries `require` the platform's tfjs).
    ...runtimeEnvFor(deps.runtimes, job.runtime, job.entry),
  };
  // docs/api.md#job-metrics :begin — metrics carrying this job's id are accepted from now on.
  await beginMetrics(deps, job.user, job.name, job.uid);
  await deps.orchestrator.start({
    id: workloadId(job),
    kind: 'job',
    labels: { user: job.user, name: job.name },
    runtime: job.runtime,
    command: commandFor(deps.runtimes, job.runtime, path.join(paths.home(job.user), job.entry), python),
    workdir: workspace,
    env,
    logFile: path.join(workspace, 'log', 'job.log'),
    resources: { cpu: job.cpu, gpu: job.gpu, ram: job.ram },
    sandbox: {
      writable: [workspace],
      readOnly: [paths.home(job.user), datasets, ...(python ? [deps.pythonEnvs.dir(job.runtime), PY_HELPER_DIR] : runtimeFiles(deps.runtimes.nodeJobs.reads()))],
      hidden: [deps.config.root],
      ...(hostUid !== undefined ? { hostUid } : {}),
    },
  });
  const col = jobsCollection(deps.store);
  await col.update(job._id, {}, { set: { launched: true, ...(job.attempt ? {} : { attempt: 1 }) } });
  // The msg said it waited for its runtime; one set since (the job ended at once, say) stays.
  if (job.awaits_runtime) await col.update(job._id, { msg: job.msg }, { unset: ['msg', 'awaits_runtime'] });
}

/**
 * The interpreter a Python entry runs with locally: its runtime's environment, which the platform
 * builds on first use. Until it is built the job waits in `creating` saying so (the reconciler
 * launches it once it is: null here); if it cannot be built the job ends in error saying why.
 * Undefined: no local interpreter needed (a node entry, or Kubernetes, whose image holds it).
 */
async function pythonFor(job: JobDoc, deps: Deps): Promise<string | undefined | null> {
  if (deps.orchestrator.kind !== 'local' || entryKind(job.runtime, job.entry) !== 'python') return undefined;
  const env = deps.pythonEnvs.state(job.runtime);
  if (env.phase === 'ready') return deps.pythonEnvs.python(job.runtime);
  const col = jobsCollection(deps.store);
  if (env.phase === 'failed') {
    await col.update(job._id, { state: 'creating' }, { set: { state: 'error', msg: `not run: the Python environment of runtime ${job.runtime} could not be built: ${env.detail}` } });
    return null;
  }
  const msg = `waiting for runtime ${job.runtime} to be prepared: its Python environment is built on first use, which takes a few minutes (${env.detail})`;
  if (job.msg !== msg || !job.awaits_runtime) await col.update(job._id, { state: 'creating' }, { set: { msg, awaits_runtime: true } });
  return null;
}
