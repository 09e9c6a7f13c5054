import { describe, expect, it } from 'vitest';
import { InputShapeError, ShadowDeployment, ValidationError, hashUnit } from '../../src/index.js';
import { FakeClock, seededRandom } from '../../src/testing/index.js';

describe('ShadowDeployment routing', () => {
  it('always assigns the primary and mirrors a sticky, hash-sampled share', () => {
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2, mirrorPercent: 20, salt: 'dark' });
    let mirrored = 0;
    let notPrimary = 0;
    for (let i = 0; i < 100_000; i++) {
      const a = shadow.route({ unitId: `user-${i}` });
      if (a.version !== 1) notPrimary++;
      if (a.mirror) mirrored++;
    }
    expect(notPrimary).toBe(0);
    expect(Math.abs(mirrored / 100_000 - 0.2)).toBeLessThan(0.01);
    expect(shadow.route({ unitId: 'user-7' })).toEqual({
      version: 1,
      variant: 'primary',
      reason: 'hash',
      propensity: 1,
      ...(hashUnit('dark', 'user-7') < 0.2 && { mirror: { version: 2 } }),
      shadowVersion: 2,
    });
  });

  it('draws from random without a unitId, mirrors everything by default, and honours force', () => {
    const random = seededRandom(4);
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2, mirrorPercent: 50, random: seededRandom(4) });
    for (let i = 0; i < 50; i++) {
      const a = shadow.route();
      expect(a).toMatchObject({ version: 1, reason: 'random' });
      expect(a.mirror).toEqual(random() < 0.5 ? { version: 2 } : undefined);
    }
    const all = new ShadowDeployment({ primary: 1, shadow: 2 });
    expect(all.route({ unitId: 'x' }).mirror).toEqual({ version: 2 });
    expect(all.route({ force: 'shadow' })).toEqual({ version: 2, variant: 'shadow', reason: 'forced', propensity: 1, shadowVersion: 2 });
    expect(all.route({ force: 'primary' })).toEqual({ version: 1, variant: 'primary', reason: 'forced', propensity: 1, shadowVersion: 2 });
    expect(all.fallback()).toEqual({ version: 1, variant: 'primary', reason: 'fallback', propensity: 1, shadowVersion: 2 });
    expect(() => all.route({ force: 'canary' })).toThrow(/force must be 'primary' or 'shadow', got string "canary"/);
  });

  it('keeps mirrored units mirrored when the share rises, and emits mirrorChanged', () => {
    const clock = new FakeClock(3);
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2, mirrorPercent: 10, clock: clock.now });
    const events: unknown[] = [];
    shadow.on('mirrorChanged', (e) => events.push(e));
    const ids = Array.from({ length: 5_000 }, (_, i) => `u${i}`);
    const before = ids.filter((id) => shadow.route({ unitId: id }).mirror);
    shadow.setMirrorPercent(30);
    for (const id of before) expect(shadow.route({ unitId: id }).mirror).toEqual({ version: 2 });
    expect(shadow.mirrored).toBe(30);
    expect(events).toEqual([{ from: 10, to: 30, at: 3 }]);
    expect(() => shadow.setMirrorPercent(130)).toThrow(/mirrorPercent must be a finite number >= 0 <= 100, got number 130/);
    expect(shadow.mirrored).toBe(30);
  });

  it('validates options', () => {
    expect(() => new ShadowDeployment({ primary: 1, shadow: 1 })).toThrow(/shadow must differ from primary, got 1 for both/);
    expect(() => new ShadowDeployment({ primary: 1, shadow: 2, mirrorPercent: -1 })).toThrow(/mirrorPercent must be/);
    expect(() => new ShadowDeployment({ primary: 1, shadow: 2, comparison: 'ranking' as never })).toThrow(
      /comparison must be one of 'classification', 'regression', got string "ranking"/,
    );
    expect(() => new ShadowDeployment({ primary: 'one' as never, shadow: 2 })).toThrow(/primary must be an integer >= 1, got string "one"/);
  });
});

describe('ShadowDeployment comparison', () => {
  it('accumulates the agreement rate of labels, element by element', () => {
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2, comparison: 'classification' });
    expect(shadow.report()).toMatchObject({ comparisons: 0, values: 0, agreementRate: undefined });
    shadow.compare([0, 2, 1], [0, 2, 2]);
    shadow.compare('cat', 'cat');
    shadow.compare(BigInt64Array.from([1n, 2n]), [1, 3]);
    expect(shadow.report()).toEqual({
      primary: 1,
      shadow: 2,
      comparison: 'classification',
      comparisons: 3,
      values: 6,
      agreementRate: 4 / 6,
      meanAbsoluteDifference: undefined,
      maxAbsoluteDifference: undefined,
      meanRelativeDifference: undefined,
      shapeMismatches: 0,
      shadowErrors: 0,
    });
  });

  it('accumulates absolute and relative differences of regression outputs', () => {
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2 });
    shadow.compare([[1], [2]], Float32Array.from([1.5, 2]));
    shadow.compare(0, 0);
    shadow.compare(-4, 4);
    const report = shadow.report();
    expect(report).toMatchObject({ comparison: 'regression', comparisons: 3, values: 4, agreementRate: undefined, maxAbsoluteDifference: 8 });
    expect(report.meanAbsoluteDifference).toBeCloseTo((0.5 + 0 + 0 + 8) / 4, 12);
    expect(report.meanRelativeDifference).toBeCloseTo((0.5 / 1.5 + 0 + 0 + 2) / 4, 12);
  });

  it('reads a predictor output record: the named output, or the first', () => {
    const out = (label: number[], p: number[]) => ({
      label: { data: label, dims: [label.length], type: 'int64' },
      probabilities: { data: Float32Array.from(p), dims: [label.length, 2], type: 'float32' },
    });
    const labels = new ShadowDeployment({ primary: 1, shadow: 2, comparison: 'classification' });
    labels.compare(out([0, 1], [0.9, 0.1, 0.2, 0.8]), out([0, 0], [0.8, 0.2, 0.6, 0.4]));
    expect(labels.report()).toMatchObject({ values: 2, agreementRate: 0.5 });
    const probabilities = new ShadowDeployment({ primary: 1, shadow: 2, output: 'probabilities' });
    probabilities.compare(out([0, 1], [0.5, 0.5, 0.25, 0.75]), out([0, 0], [0.5, 0.5, 0.5, 0.5]));
    expect(probabilities.report()).toMatchObject({ values: 4, maxAbsoluteDifference: 0.25, meanAbsoluteDifference: 0.125 });
  });

  it('counts shape mismatches and shadow errors instead of comparing them', () => {
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2 });
    shadow.compare([1, 2], [1, 2, 3]);
    shadow.compare(1, [1]);
    shadow.compare({ data: [1, 2], dims: [2, 1] }, { data: [1, 2], dims: [1, 2] });
    shadow.recordShadowError();
    expect(shadow.report()).toMatchObject({ comparisons: 0, values: 0, shapeMismatches: 3, shadowErrors: 1, meanAbsoluteDifference: undefined });
  });

  it('refuses outputs it cannot read with InputShapeError, changing nothing', () => {
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2 });
    shadow.compare(1, 2);
    const before = shadow.report();
    expect(() => shadow.compare({ nope: true }, 1)).toThrow(InputShapeError);
    expect(() => shadow.compare(1, null)).toThrow(/compare\(\) expects a scalar.*got shadowOutput null/);
    expect(() => shadow.compare([1, 'a'], [1, 2])).toThrow(/compare\(\) in regression expects numbers, got string "a" at index 1/);
    expect(() => shadow.compare([1, {}], [1, 2])).toThrow(InputShapeError);
    const named = new ShadowDeployment({ primary: 1, shadow: 2, output: 'y' });
    expect(() => named.compare({ x: { data: [1], dims: [1] } }, { x: { data: [1], dims: [1] } })).toThrow(/a record holding output 'y'/);
    expect(shadow.report()).toEqual(before);
  });

  it('resets statistics with a statsReset event carrying the old report', () => {
    const clock = new FakeClock(77);
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2, clock: clock.now });
    shadow.compare(1, 3);
    const events: unknown[] = [];
    shadow.on('statsReset', (e) => events.push(e));
    const previous = shadow.report();
    shadow.resetStats();
    expect(events).toEqual([{ previous, at: 77 }]);
    expect(shadow.report()).toMatchObject({ comparisons: 0, values: 0, meanAbsoluteDifference: undefined });
  });
});

describe('ShadowDeployment snapshot / restore', () => {
  it('round-trips configuration and statistics, and mirrors the same units after restore', () => {
    const shadow = new ShadowDeployment({ primary: 1, shadow: 2, mirrorPercent: 35, name: 'dark-v2', comparison: 'classification' });
    shadow.compare([1, 2], [1, 1]);
    const json = JSON.parse(JSON.stringify(shadow.snapshot()));
    const replica = new ShadowDeployment({ primary: 5, shadow: 6 });
    replica.restore(json);
    expect(replica.report()).toEqual(shadow.report());
    expect(replica.name).toBe('dark-v2');
    for (let i = 0; i < 1_000; i++) expect(replica.route({ unitId: `u${i}` })).toEqual(shadow.route({ unitId: `u${i}` }));

    const before = replica.snapshot();
    const bad: Array<[unknown, RegExp]> = [
      [{ ...json, policy: 'static' }, /snapshot.policy must be 'shadow'/],
      [{ ...json, shadow: 1 }, /snapshot.shadow must differ from snapshot.primary/],
      [{ ...json, mirrorPercent: '5' }, /snapshot.mirrorPercent must be/],
      [{ ...json, comparison: 'x' }, /snapshot.comparison must be one of/],
      [{ ...json, stats: { ...json.stats, values: -1 } }, /snapshot.stats.values must be an integer >= 0/],
      [{ ...json, stats: null }, /snapshot.stats must be an object/],
    ];
    for (const [snapshot, message] of bad) {
      expect(() => replica.restore(snapshot)).toThrow(ValidationError);
      expect(() => replica.restore(snapshot)).toThrow(message);
      expect(replica.snapshot()).toEqual(before);
    }
  });
});
