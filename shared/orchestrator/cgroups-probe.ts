import { spawn } from 'node:child_process';
import path from 'node:path';
import { openCgroup, type CgroupSupport, type WorkloadCgroup } from './cgroups.js';
import { findV1Parents, v1Dirs } from './cgroups-v1.js';
import { v2Dirs } from './cgroups-v2.js';
import { exists, killUntilEmpty, readControl, reasonOf, removeDirs } from './cgroupfs.js';

// Whether cgroups can be had here (cgroups.ts): which version, and whether this process can make a
// limited cgroup and move a process into it.

const NEEDED = ['memory', 'cpu', 'pids'] as const;

/** Probes once per process (per base and parent name): can this process make a limited cgroup and move a process into it? Never throws. */
export function cgroupSupport(opts: { base?: string; parentName?: string } = {}): Promise<CgroupSupport> {
  const base = opts.base ?? '/sys/fs/cgroup';
  const parentName = opts.parentName ?? 'mlp';
  const key = `${base}\0${parentName}`;
  let probe = probes.get(key);
  if (!probe) {
    probe = probeSupport(base, parentName).catch((err: unknown) => ({ mode: 'unavailable' as const, reason: reasonOf(err) }));
    probes.set(key, probe);
  }
  return probe;
}
const probes = new Map<string, Promise<CgroupSupport>>();

async function probeSupport(base: string, parentName: string): Promise<CgroupSupport> {
  if (process.platform !== 'linux') return { mode: 'unavailable', reason: `cgroups are Linux's; this is ${process.platform}` };
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,80}$/.test(parentName)) return { mode: 'unavailable', reason: `parent cgroup name ${JSON.stringify(parentName)} is not a plain folder name` };
  const s = await detect(base, parentName);
  if (s.mode === 'unavailable') return s;
  const id = `probe-${process.pid}`;
  const problems: string[] = [];
  try {
    const cg = await openCgroup(s, id, { cpu: 0.5, ramMi: 64, pids: 16 });
    await joinCheck(cg);
  } catch (err) {
    problems.push(reasonOf(err));
  }
  // Whatever happened, the probe leaves nothing behind (a failed open may have made folders).
  try {
    const dirs = s.mode === 'v1' ? v1Dirs(s, id) : v2Dirs(s, id);
    await killUntilEmpty([...new Set(Object.values(dirs))].map((d) => path.join(d, 'cgroup.procs')));
    await removeDirs([...new Set(Object.values(dirs))]);
  } catch (err) {
    problems.push(`cleaning up the probe: ${reasonOf(err)}`);
  }
  return problems.length ? { mode: 'unavailable', reason: problems.join('; ') } : s;
}

async function detect(base: string, parentName: string): Promise<CgroupSupport> {
  const controllersFile = path.join(base, 'cgroup.controllers');
  if (await exists(controllersFile)) {
    const offered = (await readControl(controllersFile)).split(/\s+/);
    const missing = NEEDED.filter((c) => !offered.includes(c));
    if (missing.length) return { mode: 'unavailable', reason: `cgroup v2 at ${base} does not offer the ${missing.join(', ')} controller(s) (it offers: ${offered.join(' ').trim() || 'none'})` };
    return { mode: 'v2', root: path.join(base, parentName) };
  }
  const found = await findV1Parents(base, parentName);
  if (typeof found === 'string') return { mode: 'unavailable', reason: found };
  return { mode: 'v1', root: found.memory, parents: found };
}

/** Moves a short-lived child in the way the orchestrator's wrapper does, and checks the cgroup lists it. */
async function joinCheck(cg: WorkloadCgroup): Promise<void> {
  const script = `for f in ${cg.procsFiles.map(shellQuote).join(' ')}; do echo $$ > "$f" || exit 97; done; echo joined; exec sleep 30`;
  const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(`cannot start /bin/sh: ${err.message}`));
    child.once('exit', (code, signal) => resolve(`exit ${code ?? signal}`));
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const joined = new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('joined')) resolve();
    });
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    const early = await Promise.race([joined.then(() => undefined), exited]);
    if (early !== undefined) throw new Error(`a process could not join the cgroup (${early}): ${err.trim().slice(0, 300) || 'no output'}`);
    const listed = await cg.pids();
    if (child.pid === undefined || !listed.includes(child.pid)) throw new Error(`a process wrote its pid into ${cg.procsFiles.join(', ')} but the cgroup lists ${listed.join(' ') || 'nothing'}`);
    await cg.killAll();
    const end = await exited;
    if (!end.includes('SIGKILL')) throw new Error(`the probe's process ended with ${end}, not by killAll's SIGKILL`);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
