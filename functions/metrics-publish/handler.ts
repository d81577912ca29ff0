import { Forbidden } from '../../shared/core/errors.js';
import { jobOrNotFound } from '../../shared/jobs/find.js';
import { MAX_EPOCHS, PUBLISH_LIMIT } from '../../shared/metrics/bounds.js';
import { createRateLimiter, limiterPer } from '../../shared/core/rate-limit.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

// Per job, in this process (one bucket per user/job name); a request takes one token, batch or not.
const publishes = limiterPer((deps: { now: () => Date }) => createRateLimiter({ ...PUBLISH_LIMIT, now: deps.now }));

export const handle: Handler<typeof route> = async ({ params, body, principal }, deps) => {
  const user = params.user ?? '';
  const name = params.job ?? '';
  const batch = Array.isArray(body);
  const metrics = batch ? body : [body];
  // Every element is checked before anything is sent: a refused batch publishes nothing.
  metrics.forEach((m, i) => {
    const where = batch ? `element ${i} of the body: ` : '';
    if (m.user !== undefined && m.user !== user) throw new Forbidden(`${where}field "user" must be ${user}, the user in the path`);
    if (m.name !== undefined && m.name !== name) throw new Forbidden(`${where}field "name" must be ${name}, the job in the path`);
    // One metric is kept per epoch: bounding the epoch bounds what a job stores.
    if (m.epoch >= MAX_EPOCHS) throw new Forbidden(`${where}epoch ${m.epoch} is too large: a job keeps at most ${MAX_EPOCHS} epochs (0 to ${MAX_EPOCHS - 1})`);
  });
  const job = await jobOrNotFound(deps, user, name);
  if (principal.kind === 'job' && principal.jobId !== job.uid) throw new Forbidden(`this job token belongs to an earlier job named ${name}`);
  const limiter = publishes(deps);
  if (!limiter.take(`${user}/${name}`)) {
    throw new Forbidden(
      `too many metrics for job ${name}: at most ${PUBLISH_LIMIT.perSecond} requests per second after a burst of ${PUBLISH_LIMIT.burst} (a batch counts as one); try again in ${limiter.retryAfter(`${user}/${name}`)} s`,
    );
  }
  // As a script would publish to Kafka: key user/name, the job's internal id in a header; the
  // whole batch in one send, in order. User and name are the path's, which auth bound to the token.
  const headers = { 'mlp-job-id': job.uid };
  await deps.bus.publish(
    deps.config.metricsTopic,
    metrics.map((m) => ({ key: `${user}/${name}`, value: JSON.stringify({ ...m, user, name }), headers })),
  );
  return '';
};
