import { describe, expect, it } from 'vitest';
import { DeploymentMonitor } from '../../src/index.js';
import { createSketch, quantile } from '../../src/monitor/sketch.js';
import { FakeClock } from '../../src/testing/index.js';
import { bimodal, constant, exactQuantile, lognormal } from './distributions.js';

const N = 1_000_000;
const ACCURACY = 0.01;
// Float rounding at a bin edge may add a few ulps to the guaranteed bound.
const BOUND = ACCURACY * (1 + 1e-9);

const streams: Array<{ name: string; make: () => Float64Array }> = [
  { name: 'lognormal', make: () => lognormal(N, 1) },
  { name: 'bimodal', make: () => bimodal(N, 2) },
  { name: 'constant', make: () => constant(N, 42.5) },
];

describe('quantile accuracy on 1 M samples', () => {
  it.each(streams)('$name: p50, p95, p99 within the relative accuracy of exact, mean exact', ({ make }) => {
    const values = make();
    const clock = new FakeClock(1_000);
    const monitor = new DeploymentMonitor({ relativeAccuracy: ACCURACY, clock: clock.now });
    let sum = 0;
    for (let i = 0; i < N; i++) {
      // Spread the stream over 50 s so it crosses bucket boundaries and is merged on read.
      if (i % 20_000 === 0) clock.advance(1_000);
      monitor.record('v1', values[i] as number);
      sum += values[i] as number;
    }
    const sorted = Float64Array.from(values).sort();
    for (const window of ['rolling', 'lifetime'] as const) {
      const stats = monitor.stats('v1', { window });
      expect(stats.totalRequests).toBe(N);
      expect(stats.avgLatencyMs).toBeCloseTo(sum / N, 9);
      for (const [q, got] of [
        [0.5, stats.p50LatencyMs],
        [0.95, stats.p95LatencyMs],
        [0.99, stats.p99LatencyMs],
      ] as const) {
        const exact = exactQuantile(sorted, q);
        expect(Math.abs(got - exact) / exact, `${window} q=${q}: got ${got}, exact ${exact}`).toBeLessThanOrEqual(BOUND);
      }
    }
  });

  it.each(streams)('$name: every quantile from 0.001 to 0.999 within the relative accuracy of exact', ({ make }) => {
    const values = make();
    const sketch = createSketch(ACCURACY);
    for (const v of values) sketch.accept(v);
    const sorted = Float64Array.from(values).sort();
    for (const q of [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999]) {
      const exact = exactQuantile(sorted, q);
      expect(Math.abs(quantile(sketch, q) - exact) / exact, `q=${q}`).toBeLessThanOrEqual(BOUND);
    }
  });

  it('a constant stream is exact (quantiles clamp to the exact min and max)', () => {
    const monitor = new DeploymentMonitor({ clock: () => 0 });
    for (let i = 0; i < 1000; i++) monitor.record(1, 42.5);
    const stats = monitor.stats(1);
    expect([stats.p50LatencyMs, stats.p95LatencyMs, stats.p99LatencyMs]).toEqual([42.5, 42.5, 42.5]);
  });

  it('honours a coarser relativeAccuracy', () => {
    const values = lognormal(100_000, 3);
    const monitor = new DeploymentMonitor({ relativeAccuracy: 0.05, clock: () => 0 });
    for (const v of values) monitor.record(1, v);
    const exact = exactQuantile(Float64Array.from(values).sort(), 0.99);
    const got = monitor.stats(1).p99LatencyMs;
    expect(Math.abs(got - exact) / exact).toBeLessThanOrEqual(0.05 * (1 + 1e-9));
  });
});
