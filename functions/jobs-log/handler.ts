import { open } from 'node:fs/promises';
import path from 'node:path';
import { Invalid } from '../../shared/errors.js';
import { jobOrNotFound } from '../../shared/jobs/find.js';
import { ENDED } from '../../shared/repos/jobs.js';
import type { StreamHandler } from '../../shared/route.js';
import { storagePaths } from '../../shared/storage.js';

const POLL_MS = 300;

export const handle: StreamHandler = async ({ params, query, method, req, res }, deps) => {
  if (method !== 'GET') throw new Invalid(`method ${method} is not allowed on a job's log; use GET`);
  const user = params.user ?? '';
  const name = params.job ?? '';
  const job = await jobOrNotFound(deps, user, name);
  const file = path.join(storagePaths(deps.config.root).job(job.user, job.name), 'log', 'job.log');
  const follow = query.follow === '1' || query.follow === 'true';
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  let offset = 0;
  let closed = false;
  req.on('close', () => (closed = true));
  // Sends what the log holds beyond `offset`; the log may not exist before the job starts.
  const drain = async () => {
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) return;
        offset += bytesRead;
        res.write(buf.subarray(0, bytesRead));
      }
    } finally {
      await handle.close();
    }
  };
  await drain();
  while (follow && !closed) {
    const current = await jobOrNotFound(deps, user, name).catch(() => undefined);
    // Read once more after the end, so the last lines are not lost.
    const ended = !current || current.uid !== job.uid || ENDED.includes(current.state) || current.state === 'deleting';
    await drain();
    if (ended) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  res.end();
};
