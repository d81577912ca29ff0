import type { TccClient } from './client.js';
import { refusedAs, type Applier } from './ledger.js';

/**
 * How a try stands once settled: 'held' — it had been confirmed, so it holds its amounts until
 * released; 'cancelled' — nothing is held, and the ledger refuses a late copy of the try.
 */
export type Settled = 'held' | 'cancelled';

/**
 * Settles a try whose outcome was never recorded (the caller died between its try and recording
 * the confirm). Cancelling decides it either way: it answers 200 when nothing is held (a try
 * never seen leaves a tombstone), or refuses with TCC_CONFIRMED when the try was confirmed. Any
 * other refusal or a fault is rethrown: nothing is decided, and the caller's next pass settles it
 * (shared/tcc/hold.ts, shared/datasets/lifecycle.ts and shared/jobs/lifecycle.ts record the outcome).
 */
export async function settleTry(tcc: Pick<TccClient, 'cancel'>, id: string, applier: Applier): Promise<Settled> {
  try {
    await tcc.cancel(id, applier);
  } catch (err) {
    if (refusedAs(err, 'TCC_CONFIRMED')) return 'held';
    throw err;
  }
  return 'cancelled';
}
