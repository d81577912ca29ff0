import { readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { AvailableCgroups, KernelLimits, WorkloadCgroup } from './cgroups.js';
import { CPU_PERIOD_US, childIds, errCode, exists, fsError, handle, keyed, makeDir, readControl, writeControl } from './cgroupfs.js';

/** cgroup v1: a hierarchy per controller, `<base>/<controller>/<parentName>/<id>` in each. */

/** The platform's parent folder in each controller's hierarchy (cpu and pids may share a mount with others). */
export interface V1Parents {
  memory: string;
  cpu: string;
  pids: string;
}

type V1 = Extract<AvailableCgroups, { mode: 'v1' }>;

/** A mount for each controller under `base` (by its name, or a co-mount such as `cpu,cpuacct`), or why not. */
export async function findV1Parents(base: string, parentName: string): Promise<V1Parents | string> {
  let names: string[];
  try {
    names = await readdir(base);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return `${base} does not exist: no cgroup filesystem is mounted there`;
    throw fsError('list', base, err);
  }
  const marker = { memory: 'memory.limit_in_bytes', cpu: 'cpu.cfs_quota_us', pids: 'cgroup.procs' } as const;
  const parents: Partial<V1Parents> = {};
  const missing: string[] = [];
  for (const c of ['memory', 'cpu', 'pids'] as const) {
    const name = names.includes(c) ? c : names.find((n) => n.split(',').includes(c));
    const mount = name === undefined ? undefined : path.join(base, name);
    if (mount === undefined || !(await exists(path.join(mount, marker[c])))) {
      missing.push(c);
      continue;
    }
    // `cpu` is often a link to `cpu,cpuacct`: the real path, so a co-mount counts once.
    parents[c] = path.join(await realpath(mount), parentName);
  }
  if (missing.length) return `no cgroup v2 (${path.join(base, 'cgroup.controllers')} is missing) and no cgroup v1 ${missing.join(', ')} hierarchy under ${base}`;
  return parents as V1Parents;
}

export function v1Dirs(s: V1, id: string): WorkloadCgroup['dirs'] {
  return { memory: path.join(s.parents.memory, id), cpu: path.join(s.parents.cpu, id), pids: path.join(s.parents.pids, id) };
}

export async function openV1(s: V1, id: string, limits: KernelLimits): Promise<WorkloadCgroup> {
  const dirs = v1Dirs(s, id);
  const folders = [...new Set(Object.values(dirs))];
  for (const dir of folders) await makeDir(dir);

  // memory.memsw (memory + swap) must stay >= memory.limit_in_bytes at every step: when raising,
  // memsw goes first; when lowering, the plain limit does. Equal values: swap cannot extend the limit.
  const limitFile = path.join(dirs.memory, 'memory.limit_in_bytes');
  const memswFile = path.join(dirs.memory, 'memory.memsw.limit_in_bytes');
  const hasMemsw = await exists(memswFile);
  const current = Number((await readControl(limitFile)).trim());
  if (hasMemsw && limits.bytes > current) {
    await writeControl(memswFile, limits.bytes);
    await writeControl(limitFile, limits.bytes);
  } else {
    await writeControl(limitFile, limits.bytes);
    if (hasMemsw) await writeControl(memswFile, limits.bytes);
  }
  // memory.oom_control stays as made (oom_kill_disable 0): at the limit the kernel kills, it does not pause the job.

  await writeControl(path.join(dirs.cpu, 'cpu.cfs_period_us'), CPU_PERIOD_US);
  await writeControl(path.join(dirs.cpu, 'cpu.cfs_quota_us'), limits.quotaUs);
  await writeControl(path.join(dirs.pids, 'pids.max'), limits.pids);

  return handle({
    id,
    dirs,
    procsFiles: folders.map((d) => path.join(d, 'cgroup.procs')),
    oomKilled: async (exit) => {
      const control = keyed(await readControl(path.join(dirs.memory, 'memory.oom_control')));
      if (control.oom_kill !== undefined) return control.oom_kill > 0;
      // Kernels before 4.13 have no kill counter: the limit was hit, and the workload died of SIGKILL.
      const failcnt = Number((await readControl(path.join(dirs.memory, 'memory.failcnt'))).trim());
      return failcnt > 0 && exit?.signal === 'SIGKILL';
    },
  });
}

export async function listV1(s: V1): Promise<string[]> {
  const ids = new Set<string>();
  for (const parent of new Set(Object.values(s.parents))) for (const id of await childIds(parent)) ids.add(id);
  return [...ids].sort();
}
