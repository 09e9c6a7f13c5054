/**
 * DeploymentMonitor.record against prom-client's Summary and Histogram (labelled by version) on
 * one latency stream: time per record, p99 accuracy side by side, and heap growth over 10 M
 * records. Run alone: `node --expose-gc --import tsx bench/monitor.bench.ts`.
 */
import { Histogram, Registry, Summary } from 'prom-client';
import { DeploymentMonitor } from '../src/index.js';
import { seededRandom } from '../src/testing/index.js';
import { heapUsedAfterGc, keep, printTable, ratio, timeSync } from './harness.js';

const STREAM = 1 << 20;
const MASK = STREAM - 1;
const VERSIONS = [1, 2, 3] as const;

/** Lognormal latencies (median 20 ms, σ 0.5: p99 ≈ 64 ms), the usual shape of service latency. */
function latencyStream(n: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    out[i] = 20 * Math.exp(0.5 * z);
  }
  return out;
}

const latencyMs = latencyStream(STREAM, 7);
const latencySeconds = latencyMs.map((v) => v / 1000);
const versionLabels = VERSIONS.map((v) => ({ version: String(v) }));

function newSummary(registry: Registry, windowed: boolean): Summary<'version'> {
  return new Summary({
    name: 'latency_summary',
    help: 'latency',
    labelNames: ['version'],
    percentiles: [0.5, 0.9, 0.95, 0.99],
    registers: [registry],
    ...(windowed ? { maxAgeSeconds: 60, ageBuckets: 12 } : {}),
  });
}

function newHistogram(registry: Registry): Histogram<'version'> {
  return new Histogram({ name: 'latency_histogram', help: 'latency', labelNames: ['version'], registers: [registry] });
}

// ---- memory first, before other benches leave garbage: 10 M outcomes across 3 versions, heap after GC
const memoryMonitor = new DeploymentMonitor();
const before = heapUsedAfterGc();
for (let i = 0; i < 10_000_000; i++) memoryMonitor.record(VERSIONS[i % 3] as number, latencyMs[i & MASK] as number, (i & 1023) !== 0);
const after = heapUsedAfterGc();
keep(memoryMonitor.stats(1));
printTable('heap after GC, 10 M outcomes across 3 versions', [
  { what: 'heap growth (MB)', value: (after - before) / 2 ** 20 },
  { what: 'requests recorded', value: VERSIONS.reduce((n, v) => n + memoryMonitor.stats(v, { window: 'lifetime' }).totalRequests, 0) },
]);

// ---- speed: the same stream, versions interleaved 1, 2, 3, 1, …
const monitor = new DeploymentMonitor();
let fakeNow = 0;
const monitorCheapClock = new DeploymentMonitor({ clock: () => fakeNow });
const summary = newSummary(new Registry(), false);
const windowedSummary = newSummary(new Registry(), true);
const histogram = newHistogram(new Registry());

const ours = timeSync('monitor.record', (i) => monitor.record(VERSIONS[i % 3] as number, latencyMs[i & MASK] as number));
const oursNoClock = timeSync('monitor.record with a trivial clock (Date.now cost removed)', (i) => {
  fakeNow = i >> 12;
  monitorCheapClock.record(VERSIONS[i % 3] as number, latencyMs[i & MASK] as number);
});
const clockOnly = timeSync('Date.now() alone', () => Date.now());
const summaryResult = timeSync('prom-client Summary.observe', (i) =>
  summary.observe(versionLabels[i % 3] as { version: string }, latencySeconds[i & MASK] as number),
);
const windowedSummaryResult = timeSync(
  'prom-client Summary.observe (maxAgeSeconds 60, ageBuckets 12)',
  (i) => windowedSummary.observe(versionLabels[i % 3] as { version: string }, latencySeconds[i & MASK] as number),
  200_000,
);
const histogramResult = timeSync('prom-client Histogram.observe (default buckets)', (i) =>
  histogram.observe(versionLabels[i % 3] as { version: string }, latencySeconds[i & MASK] as number),
);

printTable('time per record (best of 5 rounds)', [
  { what: ours.name, 'ns/record': ours.nsPerOp },
  { what: oursNoClock.name, 'ns/record': oursNoClock.nsPerOp },
  { what: clockOnly.name, 'ns/record': clockOnly.nsPerOp },
  { what: summaryResult.name, 'ns/record': summaryResult.nsPerOp, 'monitor is faster by': ratio(summaryResult.nsPerOp, ours.nsPerOp) },
  {
    what: windowedSummaryResult.name,
    'ns/record': windowedSummaryResult.nsPerOp,
    'monitor is faster by': ratio(windowedSummaryResult.nsPerOp, ours.nsPerOp),
  },
  { what: histogramResult.name, 'ns/record': histogramResult.nsPerOp, 'monitor is faster by': ratio(histogramResult.nsPerOp, ours.nsPerOp) },
]);

// ---- accuracy: the whole stream under one version, p99 from each
const exactP99 = (() => {
  const sorted = Float64Array.from(latencyMs).sort();
  return sorted[Math.floor(0.99 * (sorted.length - 1))] as number;
})();
const accuracyMonitor = new DeploymentMonitor();
const accuracySummary = newSummary(new Registry(), false);
const accuracyHistogram = newHistogram(new Registry());
for (let i = 0; i < STREAM; i++) {
  accuracyMonitor.record(1, latencyMs[i] as number);
  accuracySummary.observe({ version: '1' }, latencySeconds[i] as number);
  accuracyHistogram.observe({ version: '1' }, latencySeconds[i] as number);
}
const oursP99 = accuracyMonitor.stats(1, { window: 'lifetime' }).p99LatencyMs;
const summaryP99 = ((await accuracySummary.get()).values.find((v) => (v.labels as Record<string, unknown>).quantile === 0.99)?.value ?? Number.NaN) * 1000;
const histogramP99 = histogramQuantile(0.99, (await accuracyHistogram.get()).values) * 1000;
const err = (v: number) => `${(((v - exactP99) / exactP99) * 100).toFixed(2)} %`;
printTable(`p99 latency of ${STREAM} lognormal samples (ms)`, [
  { source: 'exact (sorted)', p99: exactP99, 'relative error': '0 %' },
  { source: 'DeploymentMonitor (DDSketch, 1 %)', p99: oursP99, 'relative error': err(oursP99) },
  { source: 'prom-client Summary (t-digest)', p99: summaryP99, 'relative error': err(summaryP99) },
  { source: 'prom-client Histogram, default buckets (histogram_quantile)', p99: histogramP99, 'relative error': err(histogramP99) },
]);

/** Prometheus `histogram_quantile`: linear interpolation inside the bucket holding the rank. */
function histogramQuantile(q: number, values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>): number {
  const buckets = values
    .filter((v) => v.metricName?.endsWith('_bucket'))
    .map((v) => ({ le: Number(v.labels.le), count: v.value }))
    .sort((a, b) => a.le - b.le);
  const total = buckets[buckets.length - 1]?.count ?? 0;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return lower;
      return lower + ((le - lower) * (rank - below)) / (count - below);
    }
    lower = le;
    below = count;
  }
  return Number.NaN;
}

const targets = [
  { target: '≤ 100 ns per record', measured: `${ours.nsPerOp.toFixed(1)} ns`, met: ours.nsPerOp <= 100 },
  { target: '≥ 8× faster than Summary', measured: ratio(summaryResult.nsPerOp, ours.nsPerOp), met: summaryResult.nsPerOp / ours.nsPerOp >= 8 },
  { target: '≥ 2× faster than Histogram', measured: ratio(histogramResult.nsPerOp, ours.nsPerOp), met: histogramResult.nsPerOp / ours.nsPerOp >= 2 },
  { target: 'p99 within 1 %', measured: err(oursP99), met: Math.abs(oursP99 - exactP99) <= 0.01 * exactP99 },
  { target: 'heap growth < 5 MB', measured: `${((after - before) / 2 ** 20).toFixed(2)} MB`, met: after - before < 5 * 2 ** 20 },
];
printTable('targets', targets.map((t) => ({ ...t, met: t.met ? 'yes' : 'NO' })));
