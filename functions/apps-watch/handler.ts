import { serializedPass, startAppWatcher } from '../../shared/apps/watcher.js';
import type { Handler, Service } from '../../shared/routes/route.js';
import type route from './route.js';

/** One pass now (tests and operators); the service runs them on its own. */
export const handle: Handler<typeof route> = async (_input, deps) => serializedPass(deps);

export const service: Service = {
  async start(deps) {
    return startAppWatcher(deps);
  },
};
