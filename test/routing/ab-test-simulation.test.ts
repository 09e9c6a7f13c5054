/**
 * Seeded simulations of whole experiments through ABTestController: the error rates its statistics
 * promise. Every experiment draws fresh data from `seededRandom`, so the rates are exact and
 * reproducible; the bounds leave ~3 standard errors of Monte-Carlo noise (1 000 runs).
 */
import { describe, expect, it } from 'vitest';
import { ABTestController } from '../../src/routing/ab-test.js';
import { sampleSize } from '../../src/index.js';
import { seededRandom } from '../../src/testing/seeded-random.js';
import type { RandomSource } from '../../src/options.js';

const EXPERIMENTS = 1000;

/** Standard normal draws by Box–Muller from a seeded uniform source. */
function normalSource(random: RandomSource): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - random();
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

describe('A/A: no true difference', () => {
  // Each experiment: 2 000 results split 50/50 at random, looked at after every 100 results
  // (analyzeEvery: 100, i.e. 20 looks) by a fixed-horizon twin and a sequential twin fed the same data.
  const RESULTS = 2000;
  const LOOK_EVERY = 100;
  let fixedAtHorizon = 0;
  let fixedPeeked = 0;
  let sequentialPeeked = 0;

  for (let run = 0; run < EXPERIMENTS; run++) {
    const random = seededRandom(run);
    const normal = normalSource(seededRandom(1_000_000 + run));
    const ab = new ABTestController({ random });
    const variants = [
      { name: 'a', version: 1, weight: 1 },
      { name: 'b', version: 2, weight: 1 },
    ];
    ab.createExperiment('fixed', { variants, analyzeEvery: LOOK_EVERY });
    ab.createExperiment('sequential', { variants, analyzeEvery: LOOK_EVERY, sequential: true, sequentialTuning: RESULTS });
    let fixedFlagged = false;
    let sequentialFlagged = false;
    ab.on('significant', (e) => {
      if (e.name === 'fixed') fixedFlagged = true;
      else sequentialFlagged = true;
    });
    for (let i = 0; i < RESULTS; i++) {
      const { variant } = ab.assign('fixed')!;
      const value = 10 + 3 * normal();
      ab.logResult('fixed', variant, value);
      ab.logResult('sequential', variant, value);
    }
    if (ab.results('fixed').comparisons.b?.significant) fixedAtHorizon++;
    if (fixedFlagged) fixedPeeked++;
    if (sequentialFlagged) sequentialPeeked++;
  }

  it(`fixed-horizon test looked at once: false-positive rate within [3 %, 7 %] at alpha 0.05 (observed ${fixedAtHorizon / 10} %)`, () => {
    expect(fixedAtHorizon / EXPERIMENTS).toBeGreaterThanOrEqual(0.03);
    expect(fixedAtHorizon / EXPERIMENTS).toBeLessThanOrEqual(0.07);
  });

  it(`sequential test looked at every 100 results: still at most 5 % (observed ${sequentialPeeked / 10} %)`, () => {
    expect(sequentialPeeked / EXPERIMENTS).toBeLessThanOrEqual(0.05);
  });

  it(`naive fixed test peeked the same way: visibly inflated, above 10 % (observed ${fixedPeeked / 10} %)`, () => {
    expect(fixedPeeked / EXPERIMENTS).toBeGreaterThan(0.1);
    expect(fixedPeeked).toBeGreaterThan(2 * sequentialPeeked);
  });
});

describe('A/B with a true lift: detected with the power sampleSize promised', () => {
  it('binary: baseline 10 %, +20 % relative, power 0.8 → detected in 80 % ± 5 pts of 1 000 experiments', () => {
    const { control, treatment } = sampleSize({ kind: 'binary', baseline: 0.1, mde: 0.2, power: 0.8, alpha: 0.05 });
    let detected = 0;
    for (let run = 0; run < EXPERIMENTS; run++) {
      const random = seededRandom(2_000_000 + run);
      const ab = new ABTestController();
      ab.createExperiment('conv', { modelA: 1, modelB: 2, metric: { kind: 'binary' } });
      for (let i = 0; i < control; i++) ab.logResult('conv', 'a', random() < 0.1 ? 1 : 0);
      for (let i = 0; i < treatment; i++) ab.logResult('conv', 'b', random() < 0.12 ? 1 : 0);
      const c = ab.results('conv').comparisons.b!;
      if (c.significant && c.difference > 0) detected++;
    }
    expect(detected / EXPERIMENTS).toBeGreaterThanOrEqual(0.75);
    expect(detected / EXPERIMENTS).toBeLessThanOrEqual(0.85);
  });

  it('continuous: mean 10, sd 4, +5 % relative, power 0.9, 70/30 split → detected in 90 % ± 5 pts', () => {
    const { control, treatment } = sampleSize({ kind: 'continuous', baseline: 10, stdev: 4, mde: 0.05, power: 0.9, ratio: 3 / 7 });
    let detected = 0;
    for (let run = 0; run < EXPERIMENTS; run++) {
      const normal = normalSource(seededRandom(3_000_000 + run));
      const ab = new ABTestController();
      ab.createExperiment('latency', { modelA: 1, modelB: 2, split: 0.3 });
      for (let i = 0; i < control; i++) ab.logResult('latency', 'a', 10 + 4 * normal());
      for (let i = 0; i < treatment; i++) ab.logResult('latency', 'b', 10.5 + 4 * normal());
      const c = ab.results('latency').comparisons.b!;
      if (c.significant && c.difference > 0) detected++;
    }
    expect(detected / EXPERIMENTS).toBeGreaterThanOrEqual(0.85);
    expect(detected / EXPERIMENTS).toBeLessThanOrEqual(0.95);
  });
});

describe('SRM', () => {
  it('flags a 50/50 experiment fed 52/48 over 20 000 units, and emits srmDetected once', () => {
    const ab = new ABTestController({ clock: () => 0 });
    ab.createExperiment('srm', { modelA: 1, modelB: 2, split: 0.5 });
    const events: unknown[] = [];
    ab.on('srmDetected', (e) => events.push(e));
    for (let i = 0; i < 10_400; i++) ab.logResult('srm', 'a', 1);
    for (let i = 0; i < 9_600; i++) ab.logResult('srm', 'b', 1);
    const { srm } = ab.analyze('srm');
    expect(srm.mismatch).toBe(true);
    expect(srm.status).toBe('mismatch');
    expect(srm.pValue).toBeLessThan(1e-6);
    ab.analyze('srm');
    expect(events).toHaveLength(1);
    expect(() => ab.conclude('srm')).toThrow(/sample ratio mismatch/);
  });

  it('does not flag a true 50/50 split of 20 000 hashed units', () => {
    const ab = new ABTestController();
    ab.createExperiment('srm', { modelA: 1, modelB: 2, split: 0.5 });
    for (let i = 0; i < 20_000; i++) ab.logResult('srm', ab.assign('srm', `user-${i}`)!.variant, 1);
    const { srm, variants } = ab.results('srm');
    expect(variants[0]!.count + variants[1]!.count).toBe(20_000);
    expect(srm.status).toBe('ok');
    expect(srm.mismatch).toBe(false);
  });
});
