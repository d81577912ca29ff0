import path from 'node:path';

/** What a job learns from its environment (docs/api.md#jobs); undefined outside the platform. */
export interface JobEnv {
  api: string;
  user: string;
  job: string;
  token: string;
  /** The job's internal id, from its token. */
  jobId: string;
  workspace: string;
  datasets: string;
}

export function readJobEnv(env: NodeJS.ProcessEnv = process.env): JobEnv | undefined {
  const { MLP_API: api, MLP_USER: user, MLP_JOB: job, MLP_TOKEN: token } = env;
  if (!api || !user || !job || !token) return undefined;
  return {
    api: api.replace(/\/+$/, ''),
    user,
    job,
    token,
    jobId: jobIdOf(token),
    workspace: env.MLP_WORKSPACE ?? process.cwd(),
    datasets: env.MLP_DATASETS ?? '',
  };
}

/** The `job_id` claim of a job token (a JWT). Read only, not verified: the platform verifies it. */
export function jobIdOf(token: string): string {
  const payload = token.split('.')[1];
  if (!payload) throw new Error('MLP_TOKEN is not a job token (not a JWT)');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { job_id?: unknown };
  if (typeof claims.job_id !== 'string') throw new Error('MLP_TOKEN carries no job_id: it is not a job token');
  return claims.job_id;
}

/** Where outputs go: the workspace when run by the platform, else the current folder. */
export function workspaceDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MLP_WORKSPACE || process.cwd();
}

/** A path inside one of the user's datasets ($MLP_DATASETS/{dataset}/...). */
export function datasetPath(dataset: string, ...parts: string[]): string {
  const root = process.env.MLP_DATASETS;
  if (!root) throw new Error('MLP_DATASETS is not set: datasetPath works inside a job of the platform');
  return path.join(root, dataset, ...parts);
}
