import { jobOrNotFound } from '../../shared/jobs/find.js';
import { relayOf } from '../../shared/metrics/relay.js';
import { history } from '../../shared/metrics/store.js';
import type { Handler, Service, UpgradeHandler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const job = await jobOrNotFound(deps, params.user ?? '', params.job ?? '');
  return history(deps, job.user, job.name);
};

export const upgrade: UpgradeHandler = async ({ params, ws, principal }, deps) => {
  const job = await jobOrNotFound(deps, params.user ?? '', params.job ?? '');
  // The principal goes along: the relay checks its token again while the socket is open.
  await relayOf(deps).attach(ws, job.user, job.name, principal);
};

export const service: Service = {
  async start(deps) {
    const relay = relayOf(deps);
    await relay.start();
    return relay;
  },
};
