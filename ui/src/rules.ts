// The API's rules (docs/api.md), checked before sending; the server checks again
// and its msg is shown when it refuses.
import { segmentProblem } from '../../shared/storage/file-name.js';

const NAME = /^[a-z]{1,50}$/;

export function checkName(kind: string, name: string): string | undefined {
  return NAME.test(name) ? undefined : `${kind} name "${name}" must be 1–50 lowercase letters a–z`;
}

export function checkDatasetName(name: string): string | undefined {
  if (!/^[a-z.]{1,50}$/.test(name)) return `dataset name "${name}" must be 1–50 of a–z and "."`;
  if (name.startsWith('.') || name.includes('..')) return `dataset name "${name}" may not start with "." or hold ".."`;
  return undefined;
}

export function checkPassword(password: string): string | undefined {
  return password.length >= 8 && password.length <= 128 ? undefined : 'the password must be 8 to 128 characters';
}

/**
 * A path inside a dataset or the home: segments of 1–255 bytes of UTF-8 without "/", NUL or
 * control characters, none "." or ".." (the rule of shared/storage/file-name.ts, which the server applies too).
 */
export function checkFilePath(path: string): string | undefined {
  for (const s of path.split('/')) {
    const why = segmentProblem(s);
    if (why) return `"${path}" cannot be uploaded: the name "${s}" ${why}; a name is 1–255 bytes without "/" or control characters, and not "." or ".."`;
  }
  return undefined;
}

export function checkEntry(entry: string): string | undefined {
  if (!/^[A-Za-z0-9._/-]{1,200}$/.test(entry) || entry.startsWith('/') || entry.split('/').includes('..')) {
    return `entry "${entry}" must be a relative path in your home (A–Z a–z 0–9 . _ / -, no "..")`;
  }
  return undefined;
}

/** Resources of a job or an app: gpu int 0–16, cpu 0.1–10, ram int 100–10000 Mi. */
export function checkResources(r: { cpu: number; gpu: number; ram: number }): string | undefined {
  if (!Number.isFinite(r.cpu) || r.cpu < 0.1 || r.cpu > 10) return 'cpu must be between 0.1 and 10';
  if (!Number.isInteger(r.gpu) || r.gpu < 0 || r.gpu > 16) return 'gpu must be a whole number from 0 to 16';
  if (!Number.isInteger(r.ram) || r.ram < 100 || r.ram > 10000) return 'ram must be a whole number of Mi from 100 to 10000';
  return undefined;
}
