import { stat } from 'node:fs/promises';
import path from 'node:path';
import { v4 as uuid } from 'uuid';
import type { Deps } from '../../shared/deps.js';
import { Conflict, Forbidden, Invalid } from '../../shared/errors.js';
import { admitWaiting } from '../../shared/jobs/lifecycle.js';
import { checkObjectCap } from '../../shared/limits.js';
import { checkEntry } from '../../shared/jobs/runtime.js';
import { entryKind, type Runtime } from '../../shared/runtimes/catalog.js';
import { queueOf } from '../../shared/jobs/queue-view.js';
import { jobId, jobsCollection, jobView } from '../../shared/repos/jobs.js';
import type { Handler } from '../../shared/route.js';
import { storagePaths } from '../../shared/storage.js';
import { describe, exceeding, toExact } from '../../shared/tcc/amounts.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params, body }, deps) => {
  const user = params.user ?? '';
  const tenant = body.tenant ?? 'default';
  const job = { gpu: body.gpu ?? 0, cpu: body.cpu ?? 1, ram: body.ram ?? 1000 };
  const runtime = offeredRuntime(deps, body.runtime ?? 'tf');
  await checkEntryFile(deps, user, runtime, body.entry);
  const t = await deps.resources.getTenant(tenant);
  if (!t) throw new Forbidden(`tenant ${tenant} not found`);
  const need = toExact(job);
  const never = exceeding(need, t.capacity);
  if (never.length > 0) throw new Forbidden(`job can never fit the tenant: needs ${describe(need, never)}; capacity ${describe(t.capacity, never)}`);
  const col = jobsCollection(deps.store);
  await checkObjectCap(deps, col, user, 'jobs');
  try {
    await col.insert({
      _id: jobId(user, body.name),
      uid: uuid(),
      name: body.name,
      user,
      tenant,
      runtime,
      entry: body.entry,
      ...job,
      state: 'creating',
      progress: 0,
      res: 'waiting',
      msg: 'waiting for resources',
    });
  } catch (err) {
    if (err instanceof Conflict) throw new Conflict(`job ${body.name} already exists`);
    throw err;
  }
  // Admission is fair across users (docs/api.md#jobs): this job runs now if it is its user's first
  // waiting one, fits, and no job waiting longer has resources kept for it.
  await admitWaiting(deps);
  const created = await col.get(jobId(user, body.name));
  if (!created) throw new Conflict(`job ${body.name} was deleted while it was being created`);
  return jobView(created, await queueOf(deps, [created]));
};

function offeredRuntime(deps: Deps, asked: string): Runtime {
  const offered = deps.config.runtimes;
  if (!(offered as string[]).includes(asked)) throw new Forbidden(`runtime ${asked} is not offered here; this installation offers ${offered.join(', ')}`);
  return asked as Runtime;
}

async function checkEntryFile(deps: Deps, user: string, runtime: Runtime, entry: string): Promise<void> {
  checkEntry(entry);
  const file = path.join(storagePaths(deps.config.root).home(user), entry);
  entryKind(runtime, file);
  const s = await stat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
    throw err;
  });
  if (!s?.isFile()) throw new Invalid(`entry ${entry} not found in your home (upload it to /data/${user}/.home/${entry})`);
}
