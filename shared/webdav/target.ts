import path from 'node:path';
import { Invalid } from '../errors.js';
import { DATASET_NAME } from '../repos/datasets.js';
import { storagePaths } from '../storage.js';

/** API.md §4: each segment of a file path inside a dataset or home. */
const SEGMENT = /^[A-Za-z0-9._-]{1,255}$/;
const DATASET = new RegExp(DATASET_NAME);

export interface Target {
  user: string;
  /** The dataset's name, or '.home' for the user's home. */
  name: string;
  home: boolean;
  /** The folder on disk, the dataset's or the home, as folders below MLP_ROOT (API.md §11). */
  segments: string[];
  /** Path inside it, '' for the folder itself; never has `.` or `..` segments. */
  rel: string;
  /** The same path, segment by segment. */
  parts: string[];
  /** Whether the request named the folder with a trailing slash (a listing). */
  slash: boolean;
}

/** Parses `{name}[/{path}]` of /data/{user}/…, refusing anything that could leave the folder. */
export function resolveTarget(user: string, rest: string): Target {
  const [name = '', ...segments] = rest.split('/');
  const home = name === '.home';
  if (!home && !DATASET.test(name)) throw new Invalid(`"${name}" is neither .home nor a dataset name (${DATASET_NAME})`);
  const slash = rest.endsWith('/');
  const parts = slash ? segments.slice(0, -1) : segments;
  for (const part of parts) {
    if (!SEGMENT.test(part) || part === '.' || part === '..') throw new Invalid(`path segment "${part}" must match [A-Za-z0-9._-]{1,255} and not be . or ..`);
  }
  // The storage plan's folder relative to MLP_ROOT, to be opened one folder at a time.
  const relative = storagePaths('');
  const folder = home ? relative.home(user) : relative.dataset(user, name);
  return { user, name, home, segments: folder.split(path.sep), rel: parts.join('/'), parts, slash };
}
