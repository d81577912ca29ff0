import t from 'tap';
import { bestOf, medianStops, progressOf, trialLetters, trialName, trialNames, type TrialView } from './trials.js';

t.test('trials are numbered in letters: a…z, aa, ab, …', async (t) => {
  t.same([1, 2, 26, 27, 28, 52, 53, 702, 703, 1000].map(trialLetters), ['a', 'b', 'z', 'aa', 'ab', 'az', 'ba', 'zz', 'aaa', 'all']);
  t.equal(trialName('lr', 27), 'lraa');
  t.same(trialNames('s', 3), ['sa', 'sb', 'sc']);
  t.equal(new Set(trialNames('s', 1000)).size, 1000, 'every name distinct');
  t.throws(() => trialLetters(0));
});

const trial = (job: string, value: number | null, epoch: number | null = value === null ? null : 1): TrialView => ({ job, params: { lr: job.length }, state: 'running', value, epoch });

t.test('the best trial by the goal; the earlier one on a tie; null before any metric', async (t) => {
  t.equal(bestOf([trial('a', null)], 'max'), null);
  t.match(bestOf([trial('a', 0.5), trial('b', 0.9), trial('c', 0.9)], 'max'), { job: 'b', value: 0.9 });
  t.match(bestOf([trial('a', 0.5), trial('b', 0.9)], 'min'), { job: 'a', value: 0.5 });
});

t.test('the median rule stops a trial worse than the others at its epoch, from epoch 3 on', async (t) => {
  // accuracy by epoch (index 0 unused)
  const curves = new Map<string, (number | undefined)[]>([
    ['a', [undefined, 0.5, 0.6, 0.7, 0.8]],
    ['b', [undefined, 0.5, 0.6, 0.7, 0.75]],
    ['c', [undefined, 0.2, 0.25, 0.3]],
    ['d', [undefined, 0.2, 0.3]],
  ]);
  t.same(medianStops(['c', 'd'], curves, 'max'), ['c'], 'c at epoch 3 is below the median of a and b there; d has not reached epoch 3');
  t.same(medianStops(['a'], curves, 'max'), [], 'a is the best');
  t.same(medianStops(['c'], curves, 'min'), [], 'for loss the low one is the best');
  t.same(medianStops(['c'], new Map([['c', [undefined, 1, 1, 1]]]), 'max'), [], 'alone, nothing to compare with');
  // its best so far counts, not its last value
  const dip = new Map<string, (number | undefined)[]>([
    ['x', [undefined, 0.9, 0.9, 0.1]],
    ['y', [undefined, 0.5, 0.5, 0.5]],
  ]);
  t.same(medianStops(['x'], dip, 'max'), []);
});

t.test('progress is the share of trials ended', async (t) => {
  t.same([progressOf(0, 4), progressOf(1, 3), progressOf(2, 3), progressOf(3, 3)], [0, 33, 66, 100]);
});
