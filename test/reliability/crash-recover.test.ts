import t from 'tap';
import { crashAndRecover } from './crash-recover.js';

// ~70 s on a quiet machine; a loaded one (other test files, other sessions) slows its restarts past
// tap's 300 s default. A bound, not a speed check.
t.setTimeout(20 * 60_000);

// 100 job and 50 app lifecycles while the platform process is SIGKILLed at random moments, on the
// embedded store (crash-recover-ferretdb.test.ts: the same on FerretDB).
t.test('crash and recover on the embedded store', (t) => crashAndRecover(t, {}, { jobs: 100, apps: 50 }));
