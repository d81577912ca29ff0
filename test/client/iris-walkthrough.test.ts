import t from 'tap';
import { cliSession } from '../helpers/cli.js';
import { irisWalkthrough } from '../helpers/iris.js';

// The README's walk-through against the one-process platform (test/helpers/iris.ts says what it does).
t.test('iris: upload, train, watch, model, app, predict — through the mlp client', async (t) => {
  const { work, p, mlp } = await cliSession(t);
  await irisWalkthrough(t, { url: p.url, appUrl: p.appUrl, work, mlp });
});
