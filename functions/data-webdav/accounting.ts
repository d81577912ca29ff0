import { Forbidden } from '../../shared/core/errors.js';
import { keyedMutex } from '../../shared/core/keyed-mutex.js';

// Commits to one folder are serialized in this process, so two uploads cannot together pass the
// size or the home quota; the route's maxScale of 1 makes this process the only one. PUT, PROPPATCH,
// COPY and MOVE of one dataset or home (the key: its segments joined by /) take turns, in arrival order.
export const serialized = keyedMutex();

// Bytes being received per folder, so that uploads streaming at once cannot together hold more
// than the folder's room in temporary files either (the commit checks again, exactly).
const receiving = new Map<string, number>();

/**
 * One upload's share of what its folder (`key`) is receiving: `charge` counts bytes as they arrive
 * and refuses (403, `tooBig`) once all uploads to the folder together pass `room`; `release` gives
 * back what this upload was charged (again harmless).
 */
export function receiver(key: string, room: number, tooBig: string): { charge: (bytes: number) => void; release: () => void } {
  let charged = 0;
  const charge = (bytes: number) => {
    charged += bytes;
    receiving.set(key, (receiving.get(key) ?? 0) + bytes);
    if ((receiving.get(key) ?? 0) > room) throw new Forbidden(tooBig);
  };
  const release = () => {
    const left = (receiving.get(key) ?? 0) - charged;
    if (left > 0) receiving.set(key, left);
    else receiving.delete(key);
    charged = 0;
  };
  return { charge, release };
}
