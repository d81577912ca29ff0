import t from 'tap';
import { crashAndRecover } from './crash-recover.js';

// 100 job and 50 app lifecycles while the platform process is SIGKILLed at random moments, on the
// embedded store (crash-recover-ferretdb.test.ts: the same on FerretDB).
t.test('crash and recover on the embedded store', (t) => crashAndRecover(t, {}, { jobs: 100, apps: 50 }));
