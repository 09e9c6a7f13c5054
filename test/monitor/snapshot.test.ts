import { describe, expect, it } from 'vitest';
import { DeploymentMonitor, type MonitorSnapshot, ValidationError, addOutcomes } from '../../src/index.js';
import { createSketch, mergeSketchInto, quantile, sketchFromJSON, sketchToJSON } from '../../src/monitor/sketch.js';
import { FakeClock, seededRandom } from '../../src/testing/index.js';
import { exactQuantile, lognormal, normals } from './distributions.js';

const WINDOW = { windowMs: 10_000, buckets: 5 };

/**
 * Two replicas A and B and a reference C that sees both streams, all on one clock, over 30 s so
 * some buckets have retired and some are live when the snapshots are taken.
 */
function replicas() {
  const clock = new FakeClock(1_700_000_000_000);
  const make = () => new DeploymentMonitor({ ...WINDOW, clock: clock.now });
  const a = make();
  const b = make();
  const both = make();
  const random = seededRandom(11);
  const latencyA = lognormal(30_000, 1, 20, 0.4);
  const latencyB = lognormal(30_000, 2, 35, 0.8);
  const outputs = normals(60_000, 3);
  const latencies: number[] = [];
  for (let i = 0; i < 30_000; i++) {
    if (i % 1_000 === 0) clock.advance(1_000);
    const version = i % 3 === 0 ? 'shadow:2' : 1;
    const okA = random() > 0.02;
    const okB = random() > 0.05;
    const outA = (outputs[2 * i] as number) - 1; // mostly negative outputs: merges must keep them
    const outB = (outputs[2 * i + 1] as number) * 2;
    a.record(version, { latencyMs: latencyA[i] as number, success: okA, output: outA });
    both.record(version, { latencyMs: latencyA[i] as number, success: okA, output: outA });
    b.record(version, { latencyMs: latencyB[i] as number, success: okB, output: outB });
    both.record(version, { latencyMs: latencyB[i] as number, success: okB, output: outB });
    if (version === 1) latencies.push(latencyA[i] as number, latencyB[i] as number);
  }
  b.record(7, 3); // a version only B has seen
  both.record(7, 3);
  return { clock, a, b, both, make, latencies };
}

function expectSameCounts(actual: DeploymentMonitor, expected: DeploymentMonitor): void {
  expect(actual.versionsSeen.map(String).sort()).toEqual(expected.versionsSeen.map(String).sort());
  for (const version of expected.versionsSeen) {
    for (const window of ['rolling', 'lifetime'] as const) {
      const got = actual.stats(version, { window });
      const want = expected.stats(version, { window });
      expect(got.totalRequests, `${version} ${window}`).toBe(want.totalRequests);
      expect(got.failures).toBe(want.failures);
      expect(got.successes).toBe(want.successes);
      expect(got.since).toBe(want.since);
      expect(got.avgLatencyMs).toBeCloseTo(want.avgLatencyMs, 9);
      for (const key of ['p50LatencyMs', 'p95LatencyMs', 'p99LatencyMs'] as const) {
        expect(Math.abs(got[key] - want[key]) / want[key], `${version} ${window} ${key}`).toBeLessThanOrEqual(0.02);
      }
    }
  }
}

describe('snapshot and merge', () => {
  it('merging two replicas equals one monitor fed both streams: counts exactly, quantiles within error', () => {
    const { a, b, both, make, latencies } = replicas();
    const merged = make();
    merged.merge(JSON.parse(JSON.stringify(a.snapshot())) as MonitorSnapshot);
    merged.merge(JSON.parse(JSON.stringify(b.snapshot())) as MonitorSnapshot);
    expectSameCounts(merged, both);

    const lifetime = merged.stats(1, { window: 'lifetime' });
    expect(lifetime.totalRequests).toBe(latencies.length);
    const sorted = Float64Array.from(latencies).sort();
    for (const [q, got] of [
      [0.5, lifetime.p50LatencyMs],
      [0.95, lifetime.p95LatencyMs],
      [0.99, lifetime.p99LatencyMs],
    ] as const) {
      const exact = exactQuantile(sorted, q);
      expect(Math.abs(got - exact) / exact).toBeLessThanOrEqual(0.01 * (1 + 1e-9));
    }
    expect(merged.drift('shadow:2', 1, { window: 'lifetime' })).toEqual(both.drift('shadow:2', 1, { window: 'lifetime' }));
    expect(merged.drift('shadow:2', 1, { window: 'rolling' })).toEqual(both.drift('shadow:2', 1, { window: 'rolling' }));
  });

  it('merges in place: a replica absorbing the other equals the reference', () => {
    const { a, b, both } = replicas();
    a.merge(b.snapshot());
    expectSameCounts(a, both);
    // Everything but the float sums (added in another order) renders identically.
    const withoutSums = (text: string) => text.split('\n').filter((line) => !line.includes('_sum{'));
    expect(withoutSums(a.toPrometheus())).toEqual(withoutSums(both.toPrometheus()));
  });

  it('is JSON-safe: no NaN, Infinity or undefined survives only in memory', () => {
    const { a, make } = replicas();
    make().record(1, 0); // zero latency goes to the zero bin
    const snapshot = a.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    const empty = make().snapshot();
    expect(JSON.parse(JSON.stringify(empty))).toEqual(empty);
    expect(snapshot).toMatchObject({ specVersion: 1, windowMs: 10_000, buckets: 5, relativeAccuracy: 0.01 });
  });

  it('rejects a snapshot from a differently configured monitor and changes nothing', () => {
    const { a, clock } = replicas();
    const before = a.snapshot();
    const other = new DeploymentMonitor({ windowMs: 20_000, buckets: 5, clock: clock.now });
    other.record(1, 5);
    expect(() => a.merge(other.snapshot())).toThrow(/snapshot.windowMs must equal this monitor's windowMs \(10000\) to merge, got number 20000/);
    const coarse = new DeploymentMonitor({ ...WINDOW, relativeAccuracy: 0.02, clock: clock.now });
    coarse.record(1, 5);
    expect(() => a.merge(coarse.snapshot())).toThrow(/relativeAccuracy/);
    expect(a.snapshot()).toEqual(before);
  });

  it.each<[string, (s: MonitorSnapshot) => void, RegExp]>([
    ['a wrong specVersion', (s) => Object.assign(s, { specVersion: 2 }), /snapshot.specVersion must be 1/],
    ['a bin total that disagrees with count', (s) => { s.versions[1]!.latency.retired.sketch.count += 1; }, /versions\[1\]\.latency\.retired\.sketch\.count must equal the sum of its bins/],
    ['more failures than requests', (s) => { s.versions[1]!.latency.live[0]!.failures = 1e9; }, /versions\[1\]\.latency\.live\[0\]\.failures must be an integer from 0 to/],
    ['a negative bin count', (s) => { s.versions[1]!.latency.live[0]!.sketch.positive.counts[0] = -1; }, /positive\.counts\[0\] must be an integer >= 0/],
    ['a bad version', (s) => { s.versions[1]!.version = ''; }, /versions\[1\]\.version must be a finite number or a non-empty string/],
    ['a version twice', (s) => { s.versions[1]!.version = s.versions[0]!.version; }, /appears twice/],
  ])('rejects %s, naming the field, before applying any version', (_what, spoil, message) => {
    const { a, b } = replicas();
    const before = a.snapshot();
    const snapshot = b.snapshot();
    spoil(snapshot);
    expect(() => a.merge(snapshot)).toThrow(ValidationError);
    expect(() => a.merge(snapshot)).toThrow(message);
    expect(a.snapshot()).toEqual(before);
  });

  it('places buckets by absolute time: old ones only in the lifetime, live ones in the window', () => {
    const clock = new FakeClock(0);
    const source = new DeploymentMonitor({ ...WINDOW, clock: clock.now });
    source.record(1, 10);
    clock.advance(8_000);
    source.record(1, 10);
    const snapshot = source.snapshot();
    clock.advance(4_000); // the first record is 12 s old, the second 4 s
    const target = new DeploymentMonitor({ ...WINDOW, clock: clock.now });
    target.merge(snapshot);
    expect(target.stats(1).totalRequests).toBe(1);
    expect(target.stats(1, { window: 'lifetime' })).toMatchObject({ totalRequests: 2, since: 0 });
    clock.advance(10_000);
    expect(target.stats(1).totalRequests).toBe(0);
  });

  it('refuses a snapshot version whose label this monitor already uses under another type', () => {
    const clock = new FakeClock(0);
    const source = new DeploymentMonitor({ clock: clock.now });
    source.record('1', 5);
    const target = new DeploymentMonitor({ clock: clock.now });
    target.record(1, 5);
    expect(() => target.merge(source.snapshot())).toThrow(/share the label "1"/);
    expect(target.versionsSeen).toEqual([1]);
  });
});

describe('merge under a source name', () => {
  it('keeps what each source added, version by version, until clear(); the totals are the same merged or not', () => {
    const clock = new FakeClock(1_700_000_000_000);
    const options = { clock: clock.now, windowMs: 60_000 };
    const a = new DeploymentMonitor(options);
    const b = new DeploymentMonitor(options);
    for (let i = 0; i < 300; i++) a.record(1, 5 + (i % 7), i % 10 !== 0);
    for (let i = 0; i < 50; i++) b.record(1, 40, i % 5 !== 0);
    for (let i = 0; i < 20; i++) b.record(2, 9);
    const named = new DeploymentMonitor(options);
    const plain = new DeploymentMonitor(options);
    named.merge(a.snapshot(), { source: 'r1' });
    named.merge(b.snapshot(), { source: 'r2' });
    plain.merge(a.snapshot());
    plain.merge(b.snapshot());
    expect(named.outcomes(1)).toEqual(plain.outcomes(1));
    const v1 = named.outcomesBySource(1);
    expect([...v1.keys()]).toEqual(['r1', 'r2']);
    expect(v1.get('r1')).toEqual(a.outcomes(1));
    expect(v1.get('r2')).toEqual(b.outcomes(1));
    expect(addOutcomes(v1.get('r1')!, v1.get('r2')!)).toEqual(named.outcomes(1));
    expect(named.outcomesBySource(2).get('r1')).toMatchObject({ totalRequests: 0, failures: 0 });
    expect(named.outcomesBySource(2).get('r2')).toEqual(b.outcomes(2));
    expect(plain.outcomesBySource(1).size).toBe(0);
    named.clear();
    expect(named.outcomesBySource(1).size).toBe(0);
    const empty = new DeploymentMonitor(options);
    named.merge(empty.snapshot(), { source: 'r3' }); // a replica that has served nothing yet is there all the same
    expect([...named.outcomesBySource(1)]).toEqual([['r3', expect.objectContaining({ totalRequests: 0 })]]);
    expect(() => named.merge(a.snapshot(), { source: '' })).toThrow(/source must be a non-empty string \(a replica's id\), got/);
    expect(() => named.merge(a.snapshot(), { source: 7 as never })).toThrow(ValidationError);
    expect(named.outcomes(1).totalRequests).toBe(0);
  });
});

describe('sketch helpers', () => {
  it('merges negative values too (the library merge drops them: DataDog/sketches-js#22)', () => {
    const left = createSketch(0.01);
    const right = createSketch(0.01);
    const all: number[] = [];
    for (let i = 1; i <= 1000; i++) {
      left.accept(-i);
      right.accept(i - 500);
      all.push(-i, i - 500);
    }
    mergeSketchInto(left, right);
    const sorted = Float64Array.from(all).sort();
    expect(left.count).toBe(2000);
    for (const q of [0.05, 0.25, 0.5, 0.75, 0.95]) {
      const exact = exactQuantile(sorted, q);
      expect(Math.abs(quantile(left, q) - exact)).toBeLessThanOrEqual(Math.abs(exact) * 0.01 + 1e-9);
    }
  });

  it('round-trips through JSON with identical quantiles and summary statistics', () => {
    const sketch = createSketch(0.01);
    for (const v of normals(5_000, 9)) sketch.accept(v * 100);
    sketch.accept(0);
    const copy = sketchFromJSON(JSON.parse(JSON.stringify(sketchToJSON(sketch))), 0.01, 'sketch');
    expect(sketchToJSON(copy)).toEqual(sketchToJSON(sketch));
    for (const q of [0, 0.01, 0.3, 0.5, 0.9, 1]) expect(quantile(copy, q)).toBe(quantile(sketch, q));
  });
});
