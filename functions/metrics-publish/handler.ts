import { Forbidden } from '../../shared/errors.js';
import { jobOrNotFound } from '../../shared/jobs/find.js';
import type { Handler } from '../../shared/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params, body, principal }, deps) => {
  const user = params.user ?? '';
  const name = params.job ?? '';
  if (body.user !== undefined && body.user !== user) throw new Forbidden(`field "user" must be ${user}, the user in the path`);
  if (body.name !== undefined && body.name !== name) throw new Forbidden(`field "name" must be ${name}, the job in the path`);
  const job = await jobOrNotFound(deps, user, name);
  if (principal.kind === 'job' && principal.jobId !== job.uid) throw new Forbidden(`this job token belongs to an earlier job named ${name}`);
  // As a script would publish to Kafka: key user/name, the job's internal id in a header.
  await deps.bus.publish(deps.config.metricsTopic, [{ key: `${user}/${name}`, value: JSON.stringify({ ...body, user, name }), headers: { 'mlp-job-id': job.uid } }]);
  return '';
};
