import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { jobOrNotFound } from '../../shared/jobs/find.js';
import { Reply, type Handler } from '../../shared/route.js';
import { storagePaths } from '../../shared/storage.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const job = await jobOrNotFound(deps, params.user ?? '', params.job ?? '');
  const file = path.join(storagePaths(deps.config.root).job(job.user, job.name), 'log', 'job.log');
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return ''; // not started yet
    throw err;
  });
  return new Reply(text, 200, { 'content-type': 'text/plain; charset=utf-8' });
};
