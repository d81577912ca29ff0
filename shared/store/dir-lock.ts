import { randomUUID } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * One process owns a store directory. The owner's pid is written to a private file first and
 * hard-linked into place as LOCK, so a LOCK never exists without its pid (a process reading
 * it half-written would take it for stale). A LOCK whose process is dead is taken over by
 * one process only: whoever creates `LOCK.break.<pid>` first removes it.
 */
export async function lockDir(file: string): Promise<() => Promise<void>> {
  const got = await tryLockFile(file);
  if (typeof got === 'number') throw new Error(`store ${path.dirname(file)} is in use by process ${got}; stop it or choose another MLP_ROOT`);
  return got;
}

/**
 * Takes the lock file `file` (as lockDir does): its release, or the pid of the live process
 * holding it (the caller decides whether to wait: a runtime's build waits, a store refuses).
 */
export async function tryLockFile(file: string): Promise<(() => Promise<void>) | number> {
  const mine = `${file}.${process.pid}.${randomUUID()}`;
  await writeFile(mine, String(process.pid), { flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        await link(mine, file);
        return () => unlink(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await holderOf(file);
      if (holder === undefined) continue; // released meanwhile
      if (holder && holder !== process.pid && processAlive(holder)) return holder;
      if (!(await takeOver(file, holder))) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`could not take the lock ${file}`);
  } finally {
    await unlink(mine);
  }
}

/** Removes a LOCK left by `holder` (dead, or this very process); false if another process is doing it. */
async function takeOver(file: string, holder: number): Promise<boolean> {
  const claim = `${file}.break.${holder}`;
  try {
    await writeFile(claim, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const breaker = Number(((await readFile(claim, 'utf8').catch(ignoreMissing)) ?? '').trim());
    // A breaker that died mid-way leaves its claim; with its process gone, the claim is void.
    if (breaker && breaker !== process.pid && !processAlive(breaker)) await unlink(claim).catch(ignoreMissing);
    return false;
  }
  try {
    if ((await holderOf(file)) === holder) await unlink(file).catch(ignoreMissing);
  } finally {
    await unlink(claim);
  }
  return true;
}

/** The pid in LOCK (0 if unreadable); undefined when there is no LOCK. */
async function holderOf(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(ignoreMissing);
  if (text === undefined) return undefined;
  return Number(text.trim()) || 0;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// A file may vanish between two calls when its owner exits; that is not an error.
function ignoreMissing(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}
