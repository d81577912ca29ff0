import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Deps } from '../../shared/wiring/deps.js';
import { Invalid, isClientError } from '../../shared/core/errors.js';
import { jobOrNotFound } from '../../shared/jobs/find.js';
import { ENDED, type JobDoc } from '../../shared/records/jobs.js';
import type { StreamHandler } from '../../shared/routes/route.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { openFileIn, openUnder } from '../../shared/webdav/confined.js';

const POLL_MS = 300;
const RECHECK_MS = 2000;
const CHUNK_BYTES = 64 * 1024;

export const handle: StreamHandler = async ({ params, query, method, res, principal, log: reqLog }, deps) => {
  if (method !== 'GET') throw new Invalid(`method ${method} is not allowed on a job's log; use GET`);
  const user = params.user ?? '';
  const name = params.job ?? '';
  const job = await jobOrNotFound(deps, user, name);
  const follow = query.follow === '1' || query.follow === 'true';
  // Opened before answering, so that a log the job replaced by a link is refused with 403 {msg}.
  let log = await openLog(deps, job);
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  let closed = false;
  res.on('close', () => (closed = true));
  let offset = 0;
  // Sends what the log holds beyond `offset`, waiting for the client to take each chunk.
  const send = async (handle: FileHandle, end: boolean) => {
    await pipeline(
      chunksOf(handle, offset, (n) => (offset += n)),
      res,
      { end },
    );
  };
  try {
    if (!follow) {
      if (log) await send(log, true);
      else res.end();
      return;
    }
    let checkedAt = Date.now();
    for (;;) {
      // Logout or deactivation ends the stream too, not only new requests (docs/api.md#users).
      if (Date.now() - checkedAt >= RECHECK_MS) {
        checkedAt = Date.now();
        try {
          await deps.auth.recheck(principal);
        } catch (err) {
          if (!isClientError(err)) throw err;
          reqLog.info('log stream ended: its token is no longer valid', { msg: err.message });
          res.destroy(); // cut, so that the client does not take it for the job's end
          return;
        }
      }
      const current = await currentJob(deps, user, name);
      // Read once more after the end, so the last lines are not lost.
      const ended = !current || current.uid !== job.uid || ENDED.includes(current.state) || current.state === 'deleting';
      // The log appears when the job starts; once open, the same file is read to the end, even if
      // the job swaps its path for a link meanwhile.
      if (!log) {
        try {
          log = await openLog(deps, job);
        } catch (err) {
          if (!isClientError(err)) throw err;
          break; // it appeared as a link: there is nothing of the job's to follow
        }
      }
      if (log) await send(log, false);
      if (ended || closed) break;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    res.end();
  } catch (err) {
    // The client went away: nothing is left to answer.
    if (closed) return;
    throw err;
  } finally {
    await log?.close();
  }
};

async function currentJob(deps: Deps, user: string, name: string): Promise<JobDoc | undefined> {
  try {
    return await jobOrNotFound(deps, user, name);
  } catch (err) {
    if (isClientError(err)) return undefined; // deleted meanwhile
    throw err;
  }
}

/**
 * The workspace's log/job.log, opened without following a link on the way (the workspace is the
 * job's to write: its folders and the log itself may have been replaced by links); null while the
 * log does not exist.
 */
async function openLog(deps: Deps, job: JobDoc): Promise<FileHandle | null> {
  const workspace = storagePaths('').job(job.user, job.name).split(path.sep);
  const folder = await openUnder(deps.config.root, [...workspace, 'log'], false);
  if (!folder) return null;
  try {
    return (await openFileIn(folder.as('log'), 'job.log'))?.handle ?? null;
  } finally {
    await folder.close();
  }
}

/** The file from `from` on, in fresh buffers: a buffer handed to the socket is never written again. */
async function* chunksOf(handle: FileHandle, from: number, advance: (n: number) => void): AsyncGenerator<Buffer> {
  let position = from;
  for (;;) {
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    const { bytesRead } = await handle.read(buf, 0, CHUNK_BYTES, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    advance(bytesRead);
    yield buf.subarray(0, bytesRead);
  }
}
