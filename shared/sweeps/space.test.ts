import t from 'tap';
import { gridSize, planPoints, seeded, strategyOf, validSpace, type Space } from './space.js';

t.test('a grid takes every combination in order, the first parameter varying slowest', async (t) => {
  const space = validSpace({ lr: [0.1, 0.01], units: [8, 16, 32] });
  t.equal(strategyOf(space), 'grid');
  t.equal(gridSize(space), 6);
  t.same(planPoints(space, 'grid', undefined, Math.random), [
    { lr: 0.1, units: 8 },
    { lr: 0.1, units: 16 },
    { lr: 0.1, units: 32 },
    { lr: 0.01, units: 8 },
    { lr: 0.01, units: 16 },
    { lr: 0.01, units: 32 },
  ]);
  t.throws(() => planPoints(space, 'grid', 5, Math.random), /the grid has 6 combinations, so trials must be 6 or left out \(it is 5\)/);
  t.equal(planPoints(space, 'grid', 6, Math.random).length, 6);
});

t.test('a grid over 1000 combinations is refused; a grid over a range too', async (t) => {
  const big: Space = validSpace({ a: Array.from({ length: 11 }, (_, i) => i), b: Array.from({ length: 10 }, (_, i) => i), c: Array.from({ length: 10 }, (_, i) => i) });
  t.throws(() => planPoints(big, 'grid', undefined, Math.random), /the grid has 1100 combinations; a sweep holds at most 1000 trials/);
  const mixed = validSpace({ lr: { min: 0.001, max: 0.1, log: true }, units: [8, 16] });
  t.equal(strategyOf(mixed), 'random', 'random is the default once a parameter is a range');
  t.throws(() => strategyOf(mixed, 'grid'), /a grid needs a list of values for every parameter; lr is a range/);
  t.throws(() => planPoints(mixed, 'random', undefined, Math.random), /a random sweep needs "trials"/);
});

t.test('random draws stay within their ranges; log ranges spread over decades; int ranges give integers', async (t) => {
  const space = validSpace({ lr: { min: 0.0001, max: 1, log: true }, units: { min: 4, max: 64, int: true }, act: ['relu', 'tanh'], drop: { min: 0.1, max: 0.5 } });
  const points = planPoints(space, 'random', 1000, seeded(42));
  t.equal(points.length, 1000);
  for (const p of points) {
    if (!((p.lr as number) >= 0.0001 && (p.lr as number) <= 1)) t.fail(`lr ${p.lr} outside its range`);
    if (!(Number.isInteger(p.units) && (p.units as number) >= 4 && (p.units as number) <= 64)) t.fail(`units ${p.units} not an int in range`);
    if (!['relu', 'tanh'].includes(p.act as string)) t.fail(`act ${p.act} not a listed value`);
    if (!((p.drop as number) >= 0.1 && (p.drop as number) <= 0.5)) t.fail(`drop ${p.drop} outside its range`);
  }
  // Log-uniform: about a quarter of the draws in each decade of the four.
  const below = points.filter((p) => (p.lr as number) < 0.001).length;
  t.ok(below > 150 && below < 350, `${below} of 1000 draws in the lowest decade`);
  const ints = new Set(points.map((p) => p.units));
  t.ok(ints.has(4) && ints.has(64), 'both ends of an int range are drawn');
  t.same(planPoints(space, 'random', 5, seeded(7)), planPoints(space, 'random', 5, seeded(7)), 'the same seed draws the same points');
  t.notSame(planPoints(space, 'random', 5, seeded(7)), planPoints(space, 'random', 5, seeded(8)));
});

t.test('bad spaces are refused naming what is wrong', async (t) => {
  t.throws(() => validSpace({}), /field "space" must hold at least 1 field/);
  t.throws(() => validSpace({ LR: [1] }), /parameter name "LR" must match/);
  t.throws(() => validSpace({ lr: [] }), /at least 1 element/);
  t.throws(() => validSpace({ lr: { min: 1, max: 1 } }), /parameter "lr" has min 1 not below max 1/);
  t.throws(() => validSpace({ lr: { min: 0, max: 1, log: true } }), /parameter "lr" is log-scaled, so its min must be above 0 \(it is 0\)/);
  t.throws(() => validSpace({ n: { min: 1.2, max: 1.8, int: true } }), /parameter "n" is int but holds no integer between 1.2 and 1.8/);
  t.throws(() => validSpace({ lr: { min: 0, max: 1, step: 2 } }));
  t.throws(() => validSpace(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`p${'abcdefghijk'[i]}`, [1]]))), /at most 10/);
});
