import type { Deps } from '../wiring/deps.js';
import { isClientError } from '../core/errors.js';
import type { ApiAmounts } from './client.js';
import { refusedAs, type Applier } from './ledger.js';

/**
 * Gives back what an object holds, exactly once across retries and crashes: the request id is
 * fixed per attempt, so a repeat is idempotent. Answers 'expired' when this attempt's try timed
 * out before its confirm (nothing was given back): the caller moves to the next attempt's id.
 */
export async function releaseOnce(deps: Deps, req: { id: string; applier: Applier; tenant: string; what: string } & ApiAmounts): Promise<'released' | 'expired'> {
  const { id, applier, what, ...amounts } = req;
  try {
    await deps.tcc.try({ id, applier, request_type: 'release', ...amounts });
    await deps.tcc.confirm(id, applier);
  } catch (err) {
    if (!isClientError(err)) throw err;
    if (refusedAs(err, 'TCC_CANCELLED')) return 'expired';
    // The ledger refuses to give back what it does not count; record why instead of looping.
    deps.log.error('release refused; recording it as released', { object: what, err: err.message });
  }
  return 'released';
}
