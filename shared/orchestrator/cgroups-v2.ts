import path from 'node:path';
import type { AvailableCgroups, KernelLimits, WorkloadCgroup } from './cgroups.js';
import { CPU_PERIOD_US, childIds, exists, handle, keyed, makeDir, readControl, writeControl } from './cgroupfs.js';

/** cgroup v2: one tree, `<base>/<parentName>/<id>`, the controllers handed down through cgroup.subtree_control. */

type V2 = Extract<AvailableCgroups, { mode: 'v2' }>;

const CONTROLLERS = ['memory', 'cpu', 'pids'];

export function v2Dirs(s: V2, id: string): WorkloadCgroup['dirs'] {
  const dir = path.join(s.root, id);
  return { memory: dir, cpu: dir, pids: dir };
}

/** A cgroup's children get a controller's files only when its subtree_control lists it. */
async function enableControllers(dir: string): Promise<void> {
  const file = path.join(dir, 'cgroup.subtree_control');
  const enabled = (await exists(file)) ? (await readControl(file)).split(/\s+/).map((c) => c.replace(/^\+/, '')) : [];
  if (CONTROLLERS.every((c) => enabled.includes(c))) return;
  try {
    await writeControl(file, CONTROLLERS.map((c) => `+${c}`).join(' '));
  } catch (err) {
    // EBUSY: v2 gives controllers to the children of a cgroup only if it holds no processes itself.
    const busy = (err as NodeJS.ErrnoException).code === 'EBUSY' ? ` (${dir} holds processes of its own; start the platform in a child cgroup of a delegated one)` : '';
    throw new Error(`cannot enable the memory, cpu and pids controllers for the children of ${dir}: ${(err as Error).message}${busy}`, { cause: err });
  }
}

export async function openV2(s: V2, id: string, limits: KernelLimits): Promise<WorkloadCgroup> {
  await enableControllers(path.dirname(s.root));
  await makeDir(s.root);
  await enableControllers(s.root);
  const dirs = v2Dirs(s, id);
  const dir = dirs.memory;
  await makeDir(dir);
  await writeControl(path.join(dir, 'memory.max'), limits.bytes);
  // Absent when the kernel does not account swap; otherwise none, so swap cannot extend memory.max.
  const swapFile = path.join(dir, 'memory.swap.max');
  if (await exists(swapFile)) await writeControl(swapFile, 0);
  await writeControl(path.join(dir, 'cpu.max'), `${limits.quotaUs} ${CPU_PERIOD_US}`);
  await writeControl(path.join(dir, 'pids.max'), limits.pids);
  return handle({
    id,
    dirs,
    procsFiles: [path.join(dir, 'cgroup.procs')],
    killFile: path.join(dir, 'cgroup.kill'),
    oomKilled: async () => (keyed(await readControl(path.join(dir, 'memory.events'))).oom_kill ?? 0) > 0,
  });
}

export async function listV2(s: V2): Promise<string[]> {
  return (await childIds(s.root)).sort();
}
