import t from 'tap';
import { ownDatabase } from '../helpers/platform.js';
import { crashAndRecover } from './crash-recover.js';

// crash-recover.test.ts on FerretDB (MLP_TEST_MONGO_URL, set by npm test), with half the
// lifecycles so the file stays within a few minutes on two cores.
// A bound, not a speed check: restarts under load outlast tap's 300 s default.
t.setTimeout(20 * 60_000);
const mongo = process.env.MLP_TEST_MONGO_URL;
if (!mongo) t.plan(0, 'MLP_TEST_MONGO_URL not set (npm test sets it)');
else t.test('crash and recover on FerretDB', (t) => crashAndRecover(t, ownDatabase({ MLP_MONGO_URL: mongo }), { jobs: 50, apps: 25 }));
