import t from 'tap';
import { describe } from '../../bin/src/jobs.js';
import { waitWords } from '../../shared/format/wait.js';

// `mlp job ls` and `mlp job submit` print one line per job; a waiting one shows its queue place.
const job = { name: 'train', entry: 'train.py', state: 'creating', progress: 0, cpu: 1, gpu: 0, ram: 1000 };

t.test('a waiting job shows its place and wait; others do not', async (t) => {
  t.match(
    describe({ ...job, queue: { position: 2, eta_s: 150 }, msg: 'waiting for resources' }),
    /train\s+creating\s+0%\s+cpu 1 gpu 0 ram 1000\s+train\.py\s+\[queue #2, ~3 min\]\s+\(waiting for resources\)/,
  );
  t.match(describe({ ...job, queue: { position: 1, eta_s: null } }), /\[queue #1, wait unknown\]/);
  t.notMatch(describe({ ...job, state: 'running' }), /queue/);
});

t.test('waits read in the largest unit that fits', async (t) => {
  t.same([waitWords(0), waitWords(45), waitWords(150), waitWords(3600), waitWords(7500)], ['0 s', '45 s', '3 min', '1 h', '2 h 5 min']);
});

t.test('a job with retries shows its attempt', async (t) => {
  t.match(describe({ ...job, state: 'running', retries: 2, attempt: 2 }), /train\.py\s+attempt 2\/3/);
  t.notMatch(describe({ ...job, retries: 0, attempt: 1 }), /attempt/);
});
