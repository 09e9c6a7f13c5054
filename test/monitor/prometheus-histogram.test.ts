import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DeploymentMonitor } from '../../src/index.js';
import { FakeClock, seededRandom } from '../../src/testing/index.js';

const BUCKETS = [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2];

/** `name{labels} value` lines of one metric, as { labels, value }. */
function series(text: string, name: string) {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .map((line) => {
      const [, labelText, value] = /^[^{]+\{(.*)\} (\S+)$/.exec(line)!;
      const labels = Object.fromEntries([...labelText!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      return { labels, value: Number(value!.replace('Inf', 'Infinity')) };
    });
}

/** PromQL's histogram_quantile: linear interpolation inside the bucket the rank falls in. */
function histogramQuantile(q: number, buckets: Array<{ le: number; count: number }>): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)!.count;
  const rank = q * total;
  let previous = { le: 0, count: 0 };
  for (const b of sorted) {
    if (b.count >= rank) {
      if (b.le === Infinity) return previous.le;
      return previous.le + ((b.le - previous.le) * (rank - previous.count)) / (b.count - previous.count);
    }
    previous = b;
  }
  return previous.le;
}

/** Latencies in ms kept off the bucket boundaries by more than the sketch's 1 % error. */
function latencies(n: number, seed: number, scaleMs: number): number[] {
  const random = seededRandom(seed);
  const out: number[] = [];
  while (out.length < n) {
    const ms = -Math.log(1 - random()) * scaleMs + 0.3;
    if (BUCKETS.every((b) => Math.abs(ms / 1000 - b) / b > 0.03)) out.push(ms);
  }
  return out;
}

describe("toPrometheus({ latency: 'histogram' })", () => {
  it('exposes cumulative le buckets, +Inf, _sum and _count per version, equal to prom-client’s Histogram fed the same latencies', async () => {
    const monitor = new DeploymentMonitor({ clock: new FakeClock(0).now });
    const registry = new Registry();
    const peer = new Histogram({ name: 'peer_seconds', help: 'peer', buckets: BUCKETS, labelNames: ['version'], registers: [registry] });
    for (const [version, values] of [
      [1, latencies(2000, 1, 8)],
      [2, latencies(500, 2, 30)],
    ] as const) {
      for (const ms of values) {
        monitor.record(version, ms, true);
        peer.observe({ version: String(version) }, ms / 1000);
      }
    }
    const text = monitor.toPrometheus({ latency: 'histogram', buckets: BUCKETS, labels: { model: 'iris' } });
    expect(text).toContain('# TYPE model_rollout_request_duration_seconds histogram');
    const ours = series(text, 'model_rollout_request_duration_seconds_bucket');
    const theirs = series(await registry.metrics(), 'peer_seconds_bucket');
    expect(ours.map((s) => [s.labels.version, s.labels.le, s.value])).toEqual(theirs.map((s) => [s.labels.version, s.labels.le, s.value]));
    expect(ours.every((s) => s.labels.model === 'iris')).toBe(true);
    expect(series(text, 'model_rollout_request_duration_seconds_count').map((s) => s.value)).toEqual([2000, 500]);
    const sums = series(text, 'model_rollout_request_duration_seconds_sum').map((s) => s.value);
    const peerSums = series(await registry.metrics(), 'peer_seconds_sum').map((s) => s.value);
    sums.forEach((sum, i) => expect(sum).toBeCloseTo(peerSums[i]!, 6));
    expect(text).not.toMatch(/quantile=/);
  });

  it('three replicas’ buckets summed by le give the fleet p99 that one pooled histogram gives, which their summaries cannot', () => {
    const clock = new FakeClock(0);
    // Replica 3 is slow: a third of the fleet, most of the tail.
    const replicas = [latencies(3000, 11, 4), latencies(3000, 12, 4), latencies(3000, 13, 40)];
    const pooled = new DeploymentMonitor({ clock: clock.now });
    const texts = replicas.map((values) => {
      const monitor = new DeploymentMonitor({ clock: clock.now });
      for (const ms of values) {
        monitor.record(1, ms, true);
        pooled.record(1, ms, true);
      }
      return monitor.toPrometheus({ latency: 'histogram', buckets: BUCKETS });
    });
    const summed = new Map<string, number>();
    for (const text of texts) {
      for (const s of series(text, 'model_rollout_request_duration_seconds_bucket')) summed.set(s.labels.le!, (summed.get(s.labels.le!) ?? 0) + s.value);
    }
    const fleet = [...summed].map(([le, count]) => ({ le: Number(le.replace('+Inf', 'Infinity')), count }));
    const one = series(pooled.toPrometheus({ latency: 'histogram', buckets: BUCKETS }), 'model_rollout_request_duration_seconds_bucket').map((s) => ({
      le: Number(s.labels.le!.replace('+Inf', 'Infinity')),
      count: s.value,
    }));
    expect(fleet).toEqual(one);
    const all = replicas.flat().sort((a, b) => a - b);
    const trueP99 = all[Math.ceil(0.99 * all.length) - 1]! / 1000;
    const fleetP99 = histogramQuantile(0.99, fleet);
    // Right bucket: the true p99 lies in the same bucket the interpolation lands in.
    const bucketOf = (v: number) => BUCKETS.findIndex((b) => v <= b);
    expect(bucketOf(fleetP99)).toBe(bucketOf(trueP99));
    // Averaging the replicas' own p99s (all a summary allows) misses it by far.
    const summaryP99s = replicas.map((values) => {
      const m = new DeploymentMonitor({ clock: clock.now });
      for (const ms of values) m.record(1, ms, true);
      return series(m.toPrometheus({ quantiles: [0.99] }), 'model_rollout_request_duration_seconds')[0]!.value;
    });
    const averaged = summaryP99s.reduce((a, b) => a + b, 0) / 3;
    expect(Math.abs(averaged - trueP99) / trueP99).toBeGreaterThan(0.2);
  });

  it('renders through collectInto a prom-client Registry', async () => {
    const monitor = new DeploymentMonitor();
    for (let i = 0; i < 50; i++) monitor.record(1, 3 + (i % 7), true);
    const registry = new Registry();
    monitor.collectInto(registry, { latency: 'histogram', buckets: BUCKETS });
    const text = await registry.metrics();
    expect(text).toContain('# TYPE model_rollout_request_duration_seconds histogram');
    expect(series(text, 'model_rollout_request_duration_seconds_bucket').find((s) => s.labels.le === '+Inf')?.value).toBe(50);
  });

  it('checks latency and buckets up front', () => {
    const monitor = new DeploymentMonitor();
    expect(() => monitor.toPrometheus({ latency: 'quantiles' as never })).toThrow(/latency must be 'summary' or 'histogram'/);
    expect(() => monitor.toPrometheus({ latency: 'histogram', buckets: [] })).toThrow(/buckets must be a non-empty array/);
    expect(() => monitor.toPrometheus({ latency: 'histogram', buckets: [0.1, 0.05] })).toThrow(/buckets must ascend strictly, got 0.1 then 0.05 at buckets\[1\]/);
    expect(() => monitor.toPrometheus({ latency: 'histogram', buckets: [0, 1] })).toThrow(/buckets\[0\] must be a finite number > 0/);
    expect(() => monitor.toPrometheus({ labels: { le: 'x' } })).toThrow(/not be one the monitor sets \(version, quantile, le,/);
  });
});
