import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { workspaceDir } from './job-env.js';

/** What save writes under before it renames (the Python helper's prefix too): never a checkpoint. */
const TMP_PREFIX = '.mlp-tmp-';

/** The job's parameters: MLP_PARAMS parsed, {} when unset or empty (a sweep's trial gets its point here). */
export function params(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const raw = (env.MLP_PARAMS ?? '').trim();
  if (!raw) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new Error(`MLP_PARAMS is not JSON (${(err as Error).message}): ${raw.slice(0, 200)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`MLP_PARAMS must be a JSON object: ${raw.slice(0, 200)}`);
  return value as Record<string, unknown>;
}

/** A path inside the user's home ($MLP_HOME/...), read-only in a job; parts may not climb out of it. */
export function homePath(...parts: string[]): string {
  const root = process.env.MLP_HOME;
  if (!root) throw new Error('MLP_HOME is not set: homePath works inside a job of the platform');
  for (const p of parts) if (path.isAbsolute(p) || p.split(/[\\/]/).includes('..')) throw new Error(`homePath: ${p} must be relative, without '..'`);
  return path.join(root, ...parts);
}

/**
 * The newest regular file under the workspace's ckpt/ (links not followed, unfinished temporary
 * files skipped), or undefined: a retried job keeps its workspace and resumes from it. Ties go to
 * the last path in sorted order, so the answer is stable.
 */
export function resumePath(dir = path.join(workspaceDir(), 'ckpt')): string | undefined {
  let best: { mtime: number; file: string } | undefined;
  const walk = (folder: string) => {
    let names: string[];
    try {
      names = readdirSync(folder).sort();
    } catch {
      return; // no ckpt/ yet, or removed meanwhile
    }
    for (const name of names) {
      if (name.startsWith(TMP_PREFIX)) continue;
      const file = path.join(folder, name);
      let st;
      try {
        st = lstatSync(file);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(file);
      else if (st.isFile() && (!best || st.mtimeMs > best.mtime || (st.mtimeMs === best.mtime && file > best.file))) best = { mtime: st.mtimeMs, file };
    }
  };
  walk(dir);
  return best?.file;
}
