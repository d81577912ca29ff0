import { randomInt } from 'node:crypto';
import type { Deps } from '../wiring/deps.js';
import { Conflict, Unavailable } from '../core/errors.js';
import { PORT_MAX, PORT_MIN, portsCollection, type PortClaim } from '../records/apps.js';
import type { New } from '../store/port.js';

const ATTEMPTS = 50;

/**
 * Takes a port in 31000–50000 that no live app has (docs/api.md#applications). The claim's _id is the port, so
 * of two creates that pick the same one the store lets one win; the other picks again. A random
 * start spreads concurrent creates over the range. Claims outlive restarts (they are in the store).
 */
export async function claimPort(deps: Deps, claim: Omit<New<PortClaim>, '_id'>): Promise<number> {
  const col = portsCollection(deps.store);
  const unusable = new Set<number>();
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const taken = new Set([...(await col.find()).map((c) => Number(c._id)), ...unusable]);
    if (taken.size > PORT_MAX - PORT_MIN) throw new Conflict(`no free port for another app: all of ${PORT_MIN}–${PORT_MAX} are taken`);
    let port = PORT_MIN + randomInt(PORT_MAX - PORT_MIN + 1);
    while (taken.has(port)) port = port === PORT_MAX ? PORT_MIN : port + 1;
    // Locally something other than an app may listen there (any program on the machine).
    if (!(await deps.orchestrator.portAvailable(port))) {
      unusable.add(port);
      continue;
    }
    try {
      await col.insert({ _id: String(port), ...claim });
      return port;
    } catch (err) {
      if (!(err instanceof Conflict)) throw err;
    }
  }
  throw new Unavailable(`could not claim a free port for the app after ${ATTEMPTS} attempts; try again`);
}

/** Gives the port back, only if this app still holds it. */
export async function releasePort(deps: Deps, port: number, appUid: string): Promise<void> {
  await portsCollection(deps.store).remove(String(port), { app_uid: appUid });
}
