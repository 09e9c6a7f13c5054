/**
 * Defect 14 of the hardening issue, through ABTestController: in sequential mode every look
 * (`analyze`, `analyzeEvery`) is kept, so the p-value is the running minimum and the confidence
 * sequence the running intersection of the looks, and the looks survive snapshot/restore.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { sequentialTest, type ComparisonResult } from '../../src/index.js';
import { ABTestController } from '../../src/routing/ab-test.js';
import type { RandomSource } from '../../src/options.js';
import { seededRandom } from '../../src/testing/seeded-random.js';

const VARIANTS = [
  { name: 'a', version: 1, weight: 1 },
  { name: 'b', version: 2, weight: 1 },
];
const RESULTS = 2000;
const LOOK_EVERY = 100;

function normalSource(random: RandomSource): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

interface Run {
  /** Challenger 'b' at every look, as `analyzed` reported it. */
  looks: ComparisonResult[];
  /** sequentialTest recomputed from the totals at every look (what the controller reported before the fix). */
  recomputed: number[];
  final: ComparisonResult;
}

/** One experiment of RESULTS results, `effect` sd between the arms, looked at every LOOK_EVERY results. */
function experiment(seed: number, effect: number): Run {
  const random = seededRandom(seed);
  const normal = normalSource(seededRandom(1_000_000 + seed));
  const ab = new ABTestController({ random });
  ab.createExperiment('e', { variants: VARIANTS, analyzeEvery: LOOK_EVERY, sequential: true, sequentialTuning: RESULTS });
  const looks: ComparisonResult[] = [];
  const recomputed: number[] = [];
  ab.on('analyzed', ({ results }) => {
    const b = results.comparisons.b;
    if (!b) return;
    looks.push(b);
    const { variants } = ab.exportStats('e');
    recomputed.push(sequentialTest(variants.a!, variants.b!, { tuning: RESULTS }).pValue);
  });
  for (let i = 0; i < RESULTS; i++) {
    const { variant } = ab.assign('e')!;
    ab.logResult('e', variant, 10 + 3 * ((variant === 'b' ? effect : 0) + normal()));
  }
  return { looks, recomputed, final: ab.results('e').comparisons.b! };
}

/** Whether each look's p-value is at most the previous one and each interval inside the previous one. */
function monotone(looks: ComparisonResult[]): boolean {
  for (let i = 1; i < looks.length; i++) {
    const [lo, hi] = looks[i]!.differenceCi;
    const [plo, phi] = looks[i - 1]!.differenceCi;
    if (looks[i]!.pValue > looks[i - 1]!.pValue || lo < plo || hi > phi) return false;
  }
  return true;
}

describe('A/A, 1 000 experiments of 2 000 results peeked 20 times (analyzeEvery: 100)', () => {
  const EXPERIMENTS = 1000;
  let falsePositives = 0;
  let everSignificant = 0;
  let allMonotone = true;
  let widened = 0;
  for (let run = 0; run < EXPERIMENTS; run++) {
    const { looks, final } = experiment(run, 0);
    if (final.significant) falsePositives++;
    if (looks.some((l) => l.significant)) everSignificant++;
    if (!monotone(looks)) allMonotone = false;
    // What the recomputed sequences did: how often a later look's interval was wider than an earlier one's.
    for (let i = 1; i < looks.length; i++) if (looks[i]!.differenceCi[1] - looks[i]!.differenceCi[0] > looks[i - 1]!.differenceCi[1] - looks[i - 1]!.differenceCi[0]) widened++;
  }

  it(`false positives at the end stay <= alpha 0.05 (observed ${falsePositives / 10} %), and equal the runs ever significant at a look`, () => {
    expect(falsePositives / EXPERIMENTS).toBeLessThanOrEqual(0.05);
    expect(falsePositives).toBe(everSignificant);
  });

  it('at every look the p-value never rises and the running-intersection interval never widens', () => {
    expect(allMonotone).toBe(true);
    expect(widened).toBe(0);
  });
});

describe('with a true effect, significance once reached is kept', () => {
  it('every run significant at some look is significant at its end; recomputed from the totals, some were not', () => {
    let crossed = 0;
    let keptByController = 0;
    let keptByRecomputation = 0;
    for (let run = 0; run < 200; run++) {
      const { looks, recomputed, final } = experiment(5_000 + run, 0.12);
      if (!looks.some((l) => l.significant)) continue;
      crossed++;
      if (final.significant) keptByController++;
      if (recomputed.at(-1)! < 0.05) keptByRecomputation++;
    }
    expect(crossed).toBeGreaterThan(20);
    expect(keptByController).toBe(crossed);
    expect(keptByRecomputation).toBeLessThan(crossed);
  });
});

describe('looks in the snapshot', () => {
  /** `count` results of an A/B with a 0.2 sd effect, as [variant, value] pairs. */
  function data(seed: number, count: number): Array<['a' | 'b', number]> {
    const random = seededRandom(seed);
    const normal = normalSource(seededRandom(seed + 1));
    return Array.from({ length: count }, () => {
      const variant = random() < 0.5 ? 'a' : 'b';
      return [variant, 10 + 3 * ((variant === 'b' ? 0.2 : 0) + normal())];
    });
  }

  /** Logs `results` into `ab`, looking after every 50. */
  function feed(ab: ABTestController, results: Array<['a' | 'b', number]>): void {
    results.forEach(([variant, value], i) => {
      ab.logResult('e', variant, value);
      if (i % 50 === 49) ab.analyze('e');
    });
  }

  function fed(seed: number, count: number): { ab: ABTestController } {
    const ab = new ABTestController();
    ab.createExperiment('e', { variants: VARIANTS, sequential: true, sequentialTuning: 1000 });
    feed(ab, data(seed, count));
    return { ab };
  }

  it('restore round-trips the looks: a restored controller goes on exactly like the original', () => {
    const { ab } = fed(11, 600);
    const snapshot = JSON.parse(JSON.stringify(ab.snapshot()));
    expect(snapshot.experiments[0].looks.b.looks).toBe(12);
    const twin = new ABTestController();
    twin.restore(snapshot);
    expect(twin.snapshot()).toEqual(ab.snapshot());
    const later = data(111, 400);
    feed(ab, later);
    feed(twin, later);
    expect(twin.snapshot()).toEqual(ab.snapshot());
    expect(twin.results('e')).toEqual(ab.results('e'));
    expect(twin.snapshot().experiments[0]!.looks!.b!.looks).toBe(20);
  });

  it('a snapshot from before looks were kept (no `looks`) still restores, and starts the running values at its next look', () => {
    const { ab } = fed(12, 300);
    const old = JSON.parse(JSON.stringify(ab.snapshot()));
    delete old.experiments[0].looks;
    const restored = new ABTestController();
    restored.restore(old);
    expect(restored.snapshot().experiments[0]!.looks).toEqual({});
    const look = restored.analyze('e').comparisons.b!;
    expect(restored.snapshot().experiments[0]!.looks!.b).toEqual({ looks: 1, pValue: look.pValue, differenceCi: look.differenceCi, liftCi: look.liftCi });
  });

  it('damaged looks are a ValidationError naming the field, and the controller keeps its state', () => {
    const { ab } = fed(13, 300);
    const good = ab.snapshot();
    const cases: Array<[unknown, RegExp]> = [
      [{ b: { looks: 0, pValue: 0.5, differenceCi: [0, 1], liftCi: null } }, /looks\.b\.looks/],
      [{ b: { looks: 2, pValue: 2, differenceCi: [0, 1], liftCi: null } }, /looks\.b\.pValue/],
      [{ b: { looks: 2, pValue: 0.5, differenceCi: [1, 0], liftCi: null } }, /looks\.b\.differenceCi/],
      [{ a: { looks: 2, pValue: 0.5, differenceCi: [0, 1], liftCi: null } }, /looks has 'a', which is not a challenger/],
      [{ constructor: { looks: 2, pValue: 0.5, differenceCi: [0, 1], liftCi: null } }, /looks has 'constructor'/],
      [[1, 2], /looks/],
      [{ b: { looks: 2, pValue: 0.5, differenceCi: [0, Number.POSITIVE_INFINITY], liftCi: null } }, /looks\.b\.differenceCi must be a finite interval/],
    ];
    for (const [looks, message] of cases) {
      const bad = JSON.parse(JSON.stringify(good));
      bad.experiments[0].looks = looks;
      expect(() => ab.restore(bad)).toThrow(ValidationError);
      expect(() => ab.restore(bad)).toThrow(message);
      expect(ab.snapshot()).toEqual(good);
    }
  });

  it('results() reports a look without keeping it; analyze() keeps it', () => {
    const { ab } = fed(14, 275);
    const kept = ab.snapshot().experiments[0]!.looks!.b!;
    const read = ab.results('e').comparisons.b!;
    expect(ab.results('e').comparisons.b).toEqual(read);
    expect(ab.snapshot().experiments[0]!.looks!.b).toEqual(kept);
    expect(read.pValue).toBeLessThanOrEqual(kept.pValue);
    expect(ab.analyze('e').comparisons.b).toEqual(read);
    expect(ab.snapshot().experiments[0]!.looks!.b!.looks).toBe(kept.looks + 1);
  });

  it('exportStats with reset restarts the looks with the statistics they were about', () => {
    const { ab } = fed(15, 300);
    expect(Object.keys(ab.snapshot().experiments[0]!.looks!)).toEqual(['b']);
    ab.exportStats('e', { reset: true });
    expect(ab.snapshot().experiments[0]!.looks).toEqual({});
  });

  it('replaceStats swaps the statistics and keeps the looks, so the running values go on; a bad snapshot changes nothing', () => {
    const { ab } = fed(16, 300);
    const before = ab.snapshot().experiments[0]!;
    const totals = ab.exportStats('e');
    // A view rebuilt from totals kept elsewhere: the same totals again, then more.
    ab.replaceStats('e', totals);
    expect(ab.snapshot().experiments[0]).toEqual(before);
    const other = fed(17, 300).ab.exportStats('e');
    const grown = new ABTestController();
    grown.restore(ab.snapshot());
    grown.mergeStats('e', other);
    ab.replaceStats('e', grown.exportStats('e'));
    expect(ab.results('e').variants.map((v) => v.count)).toEqual(grown.results('e').variants.map((v) => v.count));
    expect(ab.snapshot().experiments[0]!.looks).toEqual(before.looks);
    const look = ab.analyze('e').comparisons.b!;
    expect(look.pValue).toBeLessThanOrEqual(before.looks!.b!.pValue);
    expect(ab.snapshot().experiments[0]!.looks!.b!.looks).toBe(before.looks!.b!.looks + 1);

    const held = ab.snapshot();
    expect(() => ab.replaceStats('e', { experiment: 'e', variants: { a: { count: -1, mean: 0, m2: 0 } } } as never)).toThrow(ValidationError);
    expect(() => ab.replaceStats('e', { experiment: 'e', variants: { z: totals.variants.a! } })).toThrow(/unknown variant 'z'/);
    expect(ab.snapshot()).toEqual(held);
  });

  it('a control mean near 0 (an infinite or NaN lift interval) keeps looking, and its snapshot survives JSON', () => {
    // Found by the logResult fuzzer: the second look refused the first one's state.
    const ab = new ABTestController();
    ab.createExperiment('e', { modelA: 1, modelB: 2, sequential: true, analyzeEvery: 1 });
    for (const [variant, value] of [['b', 0], ['a', 0], ['a', 1e-323], ['b', 0], ['a', 1e-300], ['b', 1]] as const) ab.logResult('e', variant, value);
    const { pValue, differenceCi } = ab.results('e').comparisons.b!;
    expect(pValue >= 0 && pValue <= 1).toBe(true);
    expect(differenceCi.every(Number.isFinite)).toBe(true);
    const snapshot = JSON.parse(JSON.stringify(ab.snapshot()));
    const again = new ABTestController();
    again.restore(snapshot);
    expect(again.snapshot()).toEqual(ab.snapshot());
  });

  it('a fixed-horizon experiment keeps no looks', () => {
    const ab = new ABTestController();
    ab.createExperiment('f', { modelA: 1, modelB: 2 });
    for (let i = 0; i < 20; i++) ab.logResult('f', i % 2 ? 'a' : 'b', i);
    ab.analyze('f');
    expect(ab.snapshot().experiments[0]!.looks).toEqual({});
  });
});
