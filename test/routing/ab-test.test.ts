import { describe, expect, it } from 'vitest';
import { InvalidStateError, NotFoundError, ValidationError } from '../../src/errors.js';
import { ABTestController } from '../../src/routing/ab-test.js';
import type { ExperimentOptions, ExperimentStats } from '../../src/routing/ab-test-types.js';
import { hashUnit } from '../../src/routing/hash.js';
import { meanConfidenceInterval, sequentialTest, twoProportionZTest, welchTTest, wilsonInterval } from '../../src/index.js';
import { seededRandom } from '../../src/testing/seeded-random.js';

const AB: ExperimentOptions = {
  variants: [
    { name: 'a', version: 1, weight: 0.8 },
    { name: 'b', version: 2, weight: 0.2 },
  ],
};

function controller(): ABTestController {
  return new ABTestController({ random: seededRandom(7), clock: () => 1000 });
}

describe('createExperiment', () => {
  it('emits created with normalised weights, and accepts the seed’s shorthand', () => {
    const ab = controller();
    const events: unknown[] = [];
    ab.on('created', (e) => events.push(e));
    ab.createExperiment('three', { variants: [{ name: 'x', version: 1, weight: 2 }, { name: 'y', version: 2, weight: 1 }, { name: 'z', version: 3, weight: 1 }] });
    ab.createExperiment('seed', { modelA: 4, modelB: 5, split: 0.2 });
    expect(events[0]).toEqual({
      name: 'three',
      control: 'x',
      at: 1000,
      variants: [{ name: 'x', version: 1, weight: 0.5 }, { name: 'y', version: 2, weight: 0.25 }, { name: 'z', version: 3, weight: 0.25 }],
    });
    expect(ab.results('seed').variants.map((v) => [v.name, v.version, v.weight])).toEqual([['a', 4, 0.8], ['b', 5, 0.2]]);
    expect(ab.experimentNames).toEqual(['three', 'seed']);
  });

  it.each([
    ['fewer than two variants', { variants: [{ name: 'a', version: 1 }] }, /at least 2 variants/],
    ['duplicate variant names', { variants: [{ name: 'a', version: 1 }, { name: 'a', version: 2 }] }, /duplicate/],
    ['a negative weight', { variants: [{ name: 'a', version: 1, weight: -1 }, { name: 'b', version: 2 }] }, /variants\[0\]\.weight/],
    ['a non-finite weight', { variants: [{ name: 'a', version: 1 }, { name: 'b', version: 2, weight: Infinity }] }, /variants\[1\]\.weight/],
    ['all-zero weights', { variants: [{ name: 'a', version: 1, weight: 0 }, { name: 'b', version: 2, weight: 0 }] }, /positive, finite sum/],
    ['a bad version', { variants: [{ name: 'a', version: 0 }, { name: 'b', version: 2 }] }, /variants\[0\]\.version/],
    ['shorthand mixed with variants', { ...AB, modelA: 1, modelB: 2 }, /not both/],
    ['a split outside [0, 1]', { modelA: 1, modelB: 2, split: 1.5 }, /split/],
    ['coverage outside [0, 1]', { ...AB, coverage: 2 }, /coverage/],
    ['an unknown metric kind', { ...AB, metric: { kind: 'ratio' } }, /metric\.kind/],
    ['an unknown control', { ...AB, control: 'zz' }, /control/],
  ])('%s is a ValidationError', (_what, options, message) => {
    const ab = controller();
    expect(() => ab.createExperiment('e', options as ExperimentOptions)).toThrow(ValidationError);
    expect(() => ab.createExperiment('e', options as ExperimentOptions)).toThrow(message);
    expect(ab.experimentNames).toEqual([]);
  });

  it('a duplicate experiment name is a ValidationError', () => {
    const ab = controller();
    ab.createExperiment('e', AB);
    expect(() => ab.createExperiment('e', AB)).toThrow(/already exists/);
  });
});

describe('assign', () => {
  it('is sticky by hash: the bucket of hashUnit(salt, unitId) in the weight ranges, on any controller', () => {
    const one = controller();
    const two = new ABTestController();
    one.createExperiment('exp', AB);
    two.createExperiment('exp', AB);
    for (let i = 0; i < 500; i++) {
      const unit = `user-${i}`;
      const expected = hashUnit('exp', unit) < 0.8 ? 'a' : 'b';
      expect(one.assign('exp', unit)).toEqual({ version: expected === 'a' ? 1 : 2, variant: expected, reason: 'hash', propensity: expected === 'a' ? 0.8 : 0.2 });
      expect(two.assign('exp', unit)).toEqual(one.assign('exp', unit));
    }
  });

  it('splits A/B/n traffic by the weights (20 000 units within 1.5 pts)', () => {
    const ab = controller();
    ab.createExperiment('n', { variants: [{ name: 'a', version: 1, weight: 0.5 }, { name: 'b', version: 2, weight: 0.3 }, { name: 'c', version: 3, weight: 0.2 }] });
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 20_000; i++) counts[ab.assign('n', `u${i}`)!.variant]!++;
    expect(counts.a! / 20_000).toBeCloseTo(0.5, 1);
    expect(Math.abs(counts.b! / 20_000 - 0.3)).toBeLessThan(0.015);
    expect(Math.abs(counts.c! / 20_000 - 0.2)).toBeLessThan(0.015);
  });

  it('draws from random without a unitId', () => {
    const ab = new ABTestController({ random: () => 0.9 });
    ab.createExperiment('e', AB);
    expect(ab.assign('e')).toEqual({ version: 2, variant: 'b', reason: 'random', propensity: 0.2 });
    const low = new ABTestController({ random: () => 0.1 });
    low.createExperiment('e', AB);
    expect(low.assign('e')!.variant).toBe('a');
  });

  it('coverage uses its own salt: a 10 % experiment reaches every variant, and ramping keeps units in place', () => {
    const ab = controller();
    ab.createExperiment('ten', { ...AB, salt: 'shared', coverage: 0.1 });
    ab.createExperiment('fifty', { ...AB, salt: 'shared', coverage: 0.5 });
    let inTen = 0;
    const variantsInTen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const unit = `u${i}`;
      const ten = ab.assign('ten', unit);
      const fifty = ab.assign('fifty', unit);
      expect(ten === null || hashUnit('shared#coverage', unit) < 0.1).toBe(true);
      if (ten !== null) {
        inTen++;
        variantsInTen.add(ten.variant);
        expect(fifty).toMatchObject({ version: ten.version, variant: ten.variant, reason: ten.reason });
        // Weight × coverage; the control also gets the units outside the coverage.
        expect(ten.propensity).toBeCloseTo(ten.variant === 'a' ? 0.1 * 0.8 + 0.9 : 0.1 * 0.2, 12);
        expect(fifty?.propensity).toBeCloseTo(ten.variant === 'a' ? 0.5 * 0.8 + 0.5 : 0.5 * 0.2, 12);
      }
    }
    expect(Math.abs(inTen / 10_000 - 0.1)).toBeLessThan(0.01);
    expect(variantsInTen).toEqual(new Set(['a', 'b']));
  });

  it('forceVariant pins a unit for QA; null unpins; unknown variants are refused', () => {
    const ab = controller();
    ab.createExperiment('e', AB);
    ab.createExperiment('other', { variants: [{ name: 'x', version: 1 }, { name: 'y', version: 2 }] });
    const natural = ab.assign('e', 'qa-1')!.variant;
    const other = natural === 'a' ? 'b' : 'a';
    ab.forceVariant('qa-1', other);
    expect(ab.assign('e', 'qa-1')).toMatchObject({ variant: other, reason: 'forced', propensity: 1 });
    expect(ab.assign('other', 'qa-1')!.reason).toBe('hash');
    ab.forceVariant('qa-1', null);
    expect(ab.assign('e', 'qa-1')!.variant).toBe(natural);
    expect(() => ab.forceVariant('qa-1', 'nope')).toThrow(ValidationError);
    expect(() => ab.forceVariant('qa-1', 'x', 'e')).toThrow(/experiment 'e'/);
  });

  it('unknown experiments are a NotFoundError', () => {
    expect(() => controller().assign('missing', 'u')).toThrow(NotFoundError);
  });
});

describe('route: the controller as a router policy', () => {
  it('routes the default experiment; outside coverage → control with reason fallback; force by name', () => {
    const ab = controller();
    expect(() => ab.route({ unitId: 'u' })).toThrow(InvalidStateError);
    ab.createExperiment('first', { ...AB, coverage: 0.5 });
    ab.createExperiment('second', AB);
    let fallbacks = 0;
    for (let i = 0; i < 200; i++) {
      const r = ab.route({ unitId: `u${i}` });
      const assigned = ab.assign('first', `u${i}`);
      if (assigned === null) {
        fallbacks++;
        // Outside the coverage the control is served: its share is 0.5 × 0.8 inside plus the 0.5 outside.
        expect(r).toEqual({ version: 1, variant: 'a', reason: 'fallback', propensity: 0.9 });
      } else expect(r).toBe(assigned);
    }
    expect(fallbacks).toBeGreaterThan(50);
    expect(ab.route({ force: 'b' })).toEqual({ version: 2, variant: 'b', reason: 'forced', propensity: 1 });
    expect(() => ab.route({ force: 'zz' })).toThrow(ValidationError);
    expect(ab.fallback()).toEqual({ version: 1, variant: 'a', reason: 'fallback', propensity: 0.9 });
  });

  it('policy(name) is a RoutingPolicy bound to one experiment; defaultExperiment picks the controller’s', () => {
    const ab = new ABTestController({ defaultExperiment: 'second' });
    ab.createExperiment('first', AB);
    ab.createExperiment('second', { variants: [{ name: 'x', version: 7 }, { name: 'y', version: 8 }] });
    expect(ab.fallback().version).toBe(7);
    const policy = ab.policy('first');
    expect(policy.route({ unitId: 'u1' })).toBe(ab.assign('first', 'u1'));
    expect(policy.fallback()).toEqual({ version: 1, variant: 'a', reason: 'fallback', propensity: 0.8 });
    expect(() => ab.policy('missing')).toThrow(NotFoundError);
  });
});

describe('logResult and results', () => {
  it('streams per-variant statistics equal to the batch computations', () => {
    const ab = controller();
    ab.createExperiment('e', AB);
    const a = [12.1, 9.8, 11.4, 10.2, 10.9, 11.7];
    const b = [13.2, 12.5, 14.1, 11.9, 13.8];
    for (const x of a) ab.logResult('e', 'a', x);
    for (const x of b) ab.logResult('e', 'b', x);
    const r = ab.results('e');
    expect(r.variants[0]).toMatchObject({ name: 'a', count: 6 });
    expect(r.variants[0]!.mean).toBeCloseTo(a.reduce((s, x) => s + x, 0) / 6, 12);
    expect(r.variants[0]!.ci).toEqual(meanConfidenceInterval(a));
    expect(r.comparisons.b).toEqual(welchTTest(a, b));
    expect(r.comparisons.b).toMatchObject({ test: 'welch-t', significant: true });
    expect(r.srm.status).toBe('not enough data');
  });

  it('binary metrics use the two-proportion z-test and Wilson intervals; booleans are 0/1', () => {
    const ab = controller();
    ab.createExperiment('e', { ...AB, metric: { kind: 'binary' } });
    for (let i = 0; i < 200; i++) ab.logResult('e', 'a', i < 20);
    for (let i = 0; i < 100; i++) ab.logResult('e', 'b', i < 18 ? 1 : 0);
    const r = ab.results('e');
    const expected = twoProportionZTest({ successes: 20, trials: 200 }, { successes: 18, trials: 100 });
    expect(r.comparisons.b!.pValue).toBeCloseTo(expected.pValue, 12);
    expect(r.comparisons.b!.test).toBe('two-proportion-z');
    expect(r.variants[1]!.ci![0]).toBeCloseTo(wilsonInterval({ successes: 18, trials: 100 })[0], 12);
  });

  it('sequential experiments report the always-valid test', () => {
    const ab = controller();
    ab.createExperiment('e', { ...AB, sequential: true, sequentialTuning: 1000 });
    for (const x of [1, 2, 3, 4]) ab.logResult('e', 'a', x);
    for (const x of [2, 3, 4, 5]) ab.logResult('e', 'b', x);
    expect(ab.results('e').comparisons.b).toEqual(sequentialTest([1, 2, 3, 4], [2, 3, 4, 5], { tuning: 1000 }));
  });

  it('comparisons are null until both arms have enough results', () => {
    const ab = controller();
    ab.createExperiment('e', AB);
    ab.logResult('e', 'a', 1);
    ab.logResult('e', 'a', 2);
    ab.logResult('e', 'b', 1);
    expect(ab.results('e').comparisons).toEqual({ b: null });
    expect(ab.results('e').variants[1]).toMatchObject({ stdev: null, ci: null });
  });

  it.each([
    ['NaN', 'continuous', 'a', Number.NaN, /finite number/],
    ['Infinity', 'continuous', 'a', Infinity, /finite number/],
    ['an unknown variant', 'continuous', 'zz', 1, /variant must be one of 'a', 'b'/],
    ['0.5 for a binary metric', 'binary', 'a', 0.5, /0, 1 or a boolean/],
    ['a string', 'continuous', 'a', '3', /finite number/],
  ] as const)('%s is a ValidationError and changes nothing', (_what, kind, variant, value, message) => {
    const ab = controller();
    ab.createExperiment('e', { ...AB, metric: { kind } });
    ab.logResult('e', 'a', 1);
    ab.logResult('e', 'b', 0);
    const before = ab.results('e');
    expect(() => ab.logResult('e', variant, value as number)).toThrow(ValidationError);
    expect(() => ab.logResult('e', variant, value as number)).toThrow(message);
    expect(ab.results('e')).toEqual(before);
  });

  it('keeps O(1) state: the snapshot of 200 000 results is the size of the snapshot of 10', () => {
    const ab = controller();
    ab.createExperiment('e', AB);
    const random = seededRandom(3);
    for (let i = 0; i < 10; i++) ab.logResult('e', i % 2 ? 'a' : 'b', random());
    const small = JSON.stringify(ab.snapshot()).length;
    for (let i = 0; i < 200_000; i++) ab.logResult('e', i % 2 ? 'a' : 'b', random());
    // A few numbers per variant whose digit counts vary (mean, m2, meanCorrection): O(1), not O(n).
    expect(JSON.stringify(ab.snapshot()).length).toBeLessThan(small + 80);
  });
});

describe('analyze, conclude', () => {
  function withLift(options: Partial<ExperimentOptions> = {}): ABTestController {
    const ab = controller();
    ab.createExperiment('e', { variants: [{ name: 'a', version: 1 }, { name: 'b', version: 2 }, { name: 'c', version: 3 }], ...options });
    for (let i = 0; i < 50; i++) {
      ab.logResult('e', 'a', 10 + (i % 5));
      ab.logResult('e', 'b', 13 + (i % 5));
      ab.logResult('e', 'c', 10.1 + (i % 5));
    }
    return ab;
  }

  it('emits significant once per challenger, on looks (analyzeEvery or analyze)', () => {
    const ab = withLift();
    const seen: string[] = [];
    ab.on('significant', (e) => seen.push(e.variant));
    ab.analyze('e');
    ab.analyze('e');
    expect(seen).toEqual(['b']);
    const auto = controller();
    auto.createExperiment('e', { ...AB, analyzeEvery: 10 });
    auto.on('significant', (e) => seen.push(`auto-${e.variant}`));
    for (let i = 0; i < 9; i++) auto.logResult('e', i % 2 ? 'a' : 'b', i % 2 ? 1 + i / 100 : 5 + i / 100);
    expect(seen).toEqual(['b']);
    auto.logResult('e', 'b', 5);
    expect(seen).toEqual(['b', 'auto-b']);
  });

  it('concludes on the significant winner, then routes everyone to it', () => {
    const ab = withLift();
    const events: Array<{ winner: string; decision: string; version: number }> = [];
    ab.on('concluded', (e) => events.push(e));
    const result = ab.conclude('e');
    expect(result).toMatchObject({ winner: 'b', version: 2, decision: 'significant', at: 1000 });
    expect(events).toHaveLength(1);
    expect(result.results.conclusion).toEqual({ winner: 'b', decision: 'significant', at: 1000 });
    for (const unit of ['u1', 'u2', 'u3']) expect(ab.assign('e', unit)).toEqual({ version: 2, variant: 'b', reason: 'concluded', propensity: 1 });
    expect(ab.assign('e')).toEqual({ version: 2, variant: 'b', reason: 'concluded', propensity: 1 });
    expect(() => ab.conclude('e')).toThrow(InvalidStateError);
    // Everyone now gets 'b': the counts leave the weights on purpose, and no SRM alarm follows.
    const srmEvents: unknown[] = [];
    ab.on('srmDetected', (e) => srmEvents.push(e));
    for (let i = 0; i < 500; i++) ab.logResult('e', 'b', 14);
    expect(ab.analyze('e').srm.mismatch).toBe(true);
    expect(srmEvents).toEqual([]);
  });

  it('lower-is-better metrics keep the control when the challenger is significantly higher', () => {
    expect(withLift({ metric: { kind: 'continuous', higherIsBetter: false } }).conclude('e')).toMatchObject({ winner: 'a', decision: 'no-significant-winner' });
  });

  it('takes a given winner; an unknown one is a ValidationError', () => {
    const ab = withLift();
    expect(() => ab.conclude('e', 'zz')).toThrow(ValidationError);
    expect(ab.conclude('e', 'c')).toMatchObject({ winner: 'c', version: 3, decision: 'given' });
  });
});

describe('mergeStats, snapshot, restore', () => {
  it('replicas’ statistics combine exactly into what one process would have seen', () => {
    const single = controller();
    const replicas = [controller(), controller(), controller()];
    const aggregator = controller();
    for (const c of [single, ...replicas, aggregator]) c.createExperiment('e', AB);
    const random = seededRandom(11);
    for (let i = 0; i < 3000; i++) {
      const variant = random() < 0.8 ? 'a' : 'b';
      const value = 100 + 50 * random() + (variant === 'b' ? 3 : 0);
      single.logResult('e', variant, value);
      replicas[i % 3]!.logResult('e', variant, value);
    }
    for (const r of replicas) aggregator.mergeStats('e', r.exportStats('e', { reset: true }));
    for (const r of replicas) expect(r.results('e').variants.every((v) => v.count === 0)).toBe(true);
    const merged = aggregator.results('e');
    const whole = single.results('e');
    expect(merged.variants.map((v) => v.count)).toEqual(whole.variants.map((v) => v.count));
    for (let i = 0; i < 2; i++) {
      expect(merged.variants[i]!.mean).toBeCloseTo(whole.variants[i]!.mean, 10);
      expect(merged.variants[i]!.stdev!).toBeCloseTo(whole.variants[i]!.stdev!, 10);
    }
    expect(merged.comparisons.b!.pValue).toBeCloseTo(whole.comparisons.b!.pValue, 10);
  });

  it('a bad stats snapshot is a ValidationError and merges nothing', () => {
    const ab = controller();
    ab.createExperiment('e', { ...AB, metric: { kind: 'binary' } });
    const before = ab.results('e');
    const good = { count: 10, mean: 0.5, m2: 2.5 };
    for (const bad of [
      { experiment: 'other', variants: { a: good } },
      { experiment: 'e', variants: { a: good, zz: good } },
      { experiment: 'e', variants: { a: good, b: { count: -1, mean: 0, m2: 0 } } },
      { experiment: 'e', variants: { a: good, b: { count: 4, mean: 2, m2: 0 } } },
    ]) {
      expect(() => ab.mergeStats('e', bad as unknown as ExperimentStats)).toThrow(ValidationError);
    }
    expect(ab.results('e')).toEqual(before);
  });

  it('snapshot → restore reproduces experiments, statistics, conclusions and pins', () => {
    const ab = controller();
    ab.createExperiment('e', { ...AB, coverage: 0.7, salt: 's', sequential: true });
    ab.createExperiment('done', { modelA: 1, modelB: 2 });
    for (let i = 0; i < 20; i++) ab.logResult('e', i % 3 ? 'a' : 'b', i);
    ab.conclude('done', 'b');
    ab.forceVariant('qa', 'b', 'e');
    const snapshot = JSON.parse(JSON.stringify(ab.snapshot()));
    const copy = new ABTestController();
    copy.restore(snapshot);
    expect(copy.snapshot()).toEqual(ab.snapshot());
    expect(copy.results('e')).toEqual(ab.results('e'));
    for (let i = 0; i < 100; i++) expect(copy.assign('e', `u${i}`)).toEqual(ab.assign('e', `u${i}`));
    expect(copy.assign('e', 'qa')!.reason).toBe('forced');
    expect(copy.assign('done', 'anyone')).toEqual({ version: 2, variant: 'b', reason: 'concluded', propensity: 1 });
  });

  it('a bad snapshot is a ValidationError and changes nothing', () => {
    const ab = controller();
    ab.createExperiment('e', AB);
    ab.logResult('e', 'a', 1);
    const before = ab.snapshot();
    const broken = JSON.parse(JSON.stringify(before));
    broken.experiments[0].variants[1].weight = -1;
    for (const bad of [null, { policy: 'Canary', specVersion: 1, experiments: [] }, broken]) {
      expect(() => ab.restore(bad)).toThrow(ValidationError);
    }
    expect(ab.snapshot()).toEqual(before);
  });

  it("is tagged 'ab-test', and still restores v0.1's 'ABTestController' snapshots", () => {
    const ab = controller();
    ab.createExperiment('e', AB);
    ab.logResult('e', 'b', 4);
    const snapshot = ab.snapshot();
    expect(snapshot.policy).toBe('ab-test');
    // A snapshot stored by v0.1 differs only in its tag.
    const v01 = { ...JSON.parse(JSON.stringify(snapshot)), policy: 'ABTestController' };
    const copy = new ABTestController();
    copy.restore(v01);
    expect(copy.snapshot()).toEqual(snapshot);
    expect(() => copy.restore({ ...snapshot, policy: 'canary' })).toThrow(
      /snapshot.policy must be 'ab-test' or 'ABTestController', got string "canary"/,
    );
  });

  it('policy(name).snapshot/restore covers one experiment', () => {
    const ab = controller();
    ab.createExperiment('e', AB);
    ab.logResult('e', 'b', 4);
    const policy = ab.policy('e');
    const saved = policy.snapshot();
    ab.logResult('e', 'b', 5);
    policy.restore(saved);
    expect(ab.results('e').variants[1]).toMatchObject({ count: 1, mean: 4 });
    expect(() => policy.restore({ ...(saved as object), name: 'other' })).toThrow(/snapshot.name/);
  });
});
