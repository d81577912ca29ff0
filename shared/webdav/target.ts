import path from 'node:path';
import { Invalid } from '../core/errors.js';
import { DATASET_NAME } from '../records/datasets.js';
import { segmentProblem } from '../storage/file-name.js';
import { storagePaths } from '../storage/paths.js';

/** The one rule for a file's name, shared with the `mlp` client and the UI (shared/storage/file-name.ts). */
export { segmentProblem };

const DATASET = new RegExp(DATASET_NAME);

export interface Target {
  user: string;
  /** The dataset's name, or '.home' for the user's home. */
  name: string;
  home: boolean;
  /** The folder on disk, the dataset's or the home, as folders below MLP_ROOT (shared/storage/paths.ts). */
  segments: string[];
  /** Path inside it, '' for the folder itself; never has `.` or `..` segments. */
  rel: string;
  /** The same path, segment by segment (decoded). */
  parts: string[];
  /** Whether the request named the folder with a trailing slash (a listing). */
  slash: boolean;
}

/**
 * Parses `{name}[/{path}]` of /data/{user}/…, still percent-encoded as it came: split on `/`
 * first, then each segment decoded exactly once (so `%2F` never becomes a separator), refusing
 * anything that could leave the folder.
 */
export function resolveTarget(user: string, encodedRest: string): Target {
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new Invalid(`path segment "${s.slice(0, 80)}" is not valid percent-encoded UTF-8`);
    }
  };
  const [rawName = '', ...rawSegments] = encodedRest.split('/');
  const name = decode(rawName);
  const home = name === '.home';
  if (!home && !DATASET.test(name)) throw new Invalid(`"${name.slice(0, 80)}" is neither .home nor a dataset name (${DATASET_NAME})`);
  const slash = encodedRest.endsWith('/') && rawSegments.length > 0;
  const parts = (slash ? rawSegments.slice(0, -1) : rawSegments).map(decode);
  for (const part of parts) {
    const problem = segmentProblem(part);
    if (problem) throw new Invalid(`path segment ${JSON.stringify(part.slice(0, 80))} ${problem}; a name is 1–255 bytes of UTF-8 without "/", NUL or control characters, and not . or ..`);
  }
  // The storage plan's folder relative to MLP_ROOT, to be opened one folder at a time.
  const relative = storagePaths('');
  const folder = home ? relative.home(user) : relative.dataset(user, name);
  return { user, name, home, segments: folder.split(path.sep), rel: parts.join('/'), parts, slash };
}

/**
 * `{rest}` of /data/{user}/{rest} as the request line sent it (still percent-encoded), so that it
 * is decoded once, segment by segment. A request line whose path is not plainly /data/{user}/…
 * (dot segments resolved away, an encoded user name, an absolute URI) is refused.
 */
export function encodedRestOf(requestTarget: string, user: string): string {
  const pathPart = requestTarget.split('?')[0] ?? '';
  const prefix = `/data/${user}/`;
  if (!pathPart.startsWith(prefix)) throw new Invalid(`the request path must be /data/${user}/… as it is, without dot segments or encoded separators`);
  return pathPart.slice(prefix.length);
}
