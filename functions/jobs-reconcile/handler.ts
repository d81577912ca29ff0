import { serializedReconcile } from '../../shared/jobs/lifecycle.js';
import { observeWorkloads } from '../../shared/orchestrator/observe.js';
import type { Handler, Service } from '../../shared/routes/route.js';
import type route from './route.js';

/** A pass on the schedule (or when asked); the service below also runs one on each workload event. */
export const handle: Handler<typeof route> = async (_input, deps) => serializedReconcile(deps);

/** A job's process or pod that starts or ends moves the job on at once, not at the next scheduled pass. */
export const service: Service = {
  async start(deps) {
    return observeWorkloads({ orchestrator: deps.orchestrator, log: deps.log, what: 'jobs reconciler', pass: () => serializedReconcile(deps) });
  },
};
