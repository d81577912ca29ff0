import { hostPort, insideApi, type ApiBridge } from './api-bridge.js';
import { openCgroup, type WorkloadCgroup } from './cgroups.js';
import { cgroupLimits, describeLimits, limitedCommand, type JobLimits } from './local-limits.js';
import type { Workload } from './port.js';
import type { SandboxSupport } from './sandbox.js';
import { bwrapArgs, bwrapCommand, type SandboxNetwork } from './sandbox-bwrap.js';

// What a workload of the local orchestrator (local.ts) runs under: its limits (a cgroup, a disk
// bound, open files), its sandbox's network, and the command its wrapper runs with both.

/** What a job runs under (its cgroup and disk bound), or why it may not run at all. */
export type Limited = { cgroup: WorkloadCgroup; disk: number; nofile: number } | { refused: string };

/** The fd a workload's wrapper, and so bwrap, has its user namespace on. */
export const USERNS_FD = 3;

/** A job's cgroup (made now, once the last one of its id is gone: `settled`), or why it may not run; undefined when limits are off. */
export async function limitsFor(l: JobLimits | undefined, settled: (id: string) => Promise<void> | undefined, w: Workload): Promise<Limited | undefined> {
  if (!l || l.mode === 'off') return undefined;
  if (l.cgroups.mode === 'unavailable') return { refused: describeLimits(l) };
  await settled(w.id);
  return { cgroup: await openCgroup(l.cgroups, w.id, cgroupLimits(w.resources, l.pids)), disk: l.disk, nofile: l.nofile };
}

/** A sandboxed workload's network: its own namespace, with the API when its environment names one (as the workload calls it: insideApi). */
export function sandboxNetwork(w: Workload, api: ApiBridge | undefined): SandboxNetwork | 'none' {
  if (!api || !w.env.MLP_API) return 'none';
  const { hostname } = hostPort(w.env.MLP_API);
  return { socketDir: api.dir, apiHost: hostname, apiPort: insideApi(w.env.MLP_API).port };
}

/** The command the wrapper runs: the workload's own, inside bwrap when sandboxed (`box`), under its cgroup's limits when it has one. */
export function workloadCommand(
  w: Workload,
  sandbox: SandboxSupport | undefined,
  box: Workload['sandbox'],
  network: SandboxNetwork | 'none',
  limited: Limited | undefined,
  usernsFd: number | undefined,
): string[] {
  const confined =
    sandbox?.mode === 'on' && box
      ? bwrapCommand(
          sandbox.bwrap,
          bwrapArgs({ command: w.command, workdir: w.workdir, sandbox: box, tmpBytes: w.resources.ram * 1024 * 1024, network, ...(usernsFd !== undefined ? { usernsFd: USERNS_FD } : {}) }, sandbox),
        )
      : w.command;
  return limited && 'cgroup' in limited ? limitedCommand(limited.cgroup, { nofile: limited.nofile, disk: limited.disk }, confined) : confined;
}
