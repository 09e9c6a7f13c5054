/**
 * ModelRouter against bare onnxruntime, on the iris LinearClassifier, in one run:
 * 1. `router.predict` (CanaryDeployment at 50 %, DeploymentMonitor recording, pool warm), one row,
 *    sequential, vs bare `session.run` with a pre-built tensor (target ≤ 1.10×): what routing,
 *    the pool lookup, the monitor and the predictor's validation cost per request. Measured with
 *    a pre-built tensor (same input as the bare call: the router's own cost) and with a `number[]`
 *    row (what a host sends; adds the predictor's conversion).
 * 2. `router.predict` (CanaryDeployment at 50 %) over a pool whose predictors are
 *    `BatchingPredictor`s, 256 concurrent callers with one row each, vs 256 concurrent bare
 *    `session.run` calls (target ≥ 8× throughput), for four batching configurations: the
 *    adaptive default at 128 and 256 rows and two time windows (see `BATCHING`); every one is reported.
 * Every session (bare and pooled) is created with the same options, `intraOpNumThreads: 1`: with the
 * default (one thread per core) the idle sessions' spinning worker threads of a canary's two
 * versions and the bare peer compete for this 2-core machine, and the figures measure that fight
 * instead of the code (for a model this small one thread is also the faster setting).
 * Run alone: `node --expose-gc --import tsx bench/router.bench.ts`.
 */
import { performance } from 'node:perf_hooks';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { BatchingPredictor, CanaryDeployment, DeploymentMonitor, MemoryStorage, ModelRegistry, OnnxPredictor, PredictorPool, type BatchingOptions } from '../src/index.js';
import { ModelRouter } from '../src/router/model-router.js';
import { irisClassifier } from '../test/fixtures/onnx-models.js';
import { keep, printTable, ratio, summarise, timePaired, type AsyncResult } from './harness.js';

const bytes = irisClassifier();
const row = [5.9, 3.0, 5.1, 1.8];
const rows = Array.from({ length: 256 }, (_, i) => [4 + (i % 7) * 0.5, 2 + (i % 5) * 0.3, 1 + (i % 11) * 0.5, 0.1 + (i % 3) * 0.8]);
const unitIds = Array.from({ length: 1024 }, (_, i) => `user-${i}`);

const registry = new ModelRegistry({ storage: new MemoryStorage() });
await registry.register('iris', bytes);
await registry.register('iris', irisClassifier({ producerVersion: '2' }));

async function canaryRouter(pool: PredictorPool<Awaited<ReturnType<typeof registry.resolve>>>): Promise<ModelRouter> {
  const canary = new CanaryDeployment({ stable: 1, canary: 2 });
  canary.start(1, 2, 50);
  const router = new ModelRouter({ registry, model: 'iris', policy: canary, monitor: new DeploymentMonitor(), pool });
  await pool.preload('iris', 1);
  await pool.preload('iris', 2);
  return router;
}

const SESSION = { intraOpNumThreads: 1 } as const;
const session = await InferenceSession.create(bytes, SESSION);
const router = await canaryRouter(new PredictorPool({ registry, create: (b) => OnnxPredictor.create(b, SESSION) }));
const predictor = await OnnxPredictor.create(bytes, SESSION);
const prebuilt = new Tensor('float32', Float32Array.from(row), [1, 4]);
const prebuiltRows = rows.map((r) => new Tensor('float32', Float32Array.from(r), [1, 4]));

/** The round measured under the least load (lowest bare mean) of several. */
async function bestOf(rounds: number, ...args: Parameters<typeof timePaired>): Promise<[AsyncResult, AsyncResult]> {
  let best: [AsyncResult, AsyncResult] | undefined;
  for (let r = 0; r < rounds; r++) {
    const result = await timePaired(...args);
    if (best === undefined || result[0].trimmedMeanUs < best[0].trimmedMeanUs) best = result;
  }
  return best as [AsyncResult, AsyncResult];
}

// 1. Sequential, one row.
const bare = (_i: number) => session.run({ input: prebuilt });
const [bareT, routedT] = await bestOf(
  5,
  ['bare session.run (pre-built tensor)', 'router.predict(tensor, { unitId })'],
  bare,
  (i) => router.predict(prebuilt, { unitId: unitIds[i & 1023] as string }),
  10_000,
  2_000,
);
const [bareP, predictorT] = await bestOf(
  5,
  ['bare session.run (pre-built tensor)', 'OnnxPredictor.predict(tensor) (reference)'],
  bare,
  () => predictor.predict(prebuilt),
  10_000,
  2_000,
);
const [bareR, routedR] = await bestOf(
  5,
  ['bare session.run (pre-built tensor)', 'router.predict(number[], { unitId })'],
  bare,
  (i) => router.predict(row, { unitId: unitIds[i & 1023] as string }),
  10_000,
  2_000,
);
printTable(
  'one row, sequential, canary 50 %, monitor on, pool warm, paired call by call (µs per call)',
  [bareP, predictorT, bareT, routedT, bareR, routedR].map((r) => ({ name: r.name, mean: r.meanUs, 'mean < p99': r.trimmedMeanUs, p50: r.p50Us, p99: r.p99Us })),
);
console.log(`OnnxPredictor.predict(tensor) / bare: p50 ${ratio(predictorT.p50Us, bareP.p50Us)}, mean below p99 ${ratio(predictorT.trimmedMeanUs, bareP.trimmedMeanUs)} (the predictor's share)`);
console.log(
  `router.predict(tensor) / bare: p50 ${ratio(routedT.p50Us, bareT.p50Us)}, mean below p99 ${ratio(routedT.trimmedMeanUs, bareT.trimmedMeanUs)}, mean ${ratio(routedT.meanUs, bareT.meanUs)} (target ≤ 1.10×)`,
);
console.log(
  `router.predict(number[]) / bare: p50 ${ratio(routedR.p50Us, bareR.p50Us)}, mean below p99 ${ratio(routedR.trimmedMeanUs, bareR.trimmedMeanUs)}, mean ${ratio(routedR.meanUs, bareR.meanUs)}`,
);

/**
 * 256 callers, each sending its next request as soon as its previous one is answered (a closed
 * loop, like 256 concurrent clients), for `requests` requests in all; requests per second.
 */
async function throughput(call: (i: number) => Promise<unknown>, requests: number): Promise<number> {
  let next = 0;
  const caller = async () => {
    while (next < requests) keep(await call(next++));
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: rows.length }, caller));
  return requests / ((performance.now() - started) / 1000);
}

/** 256 calls at once, awaited together, `bursts` times (the predict bench's method); requests per second. */
async function burstThroughput(call: (i: number) => Promise<unknown>, bursts: number): Promise<number> {
  const started = performance.now();
  for (let b = 0; b < bursts; b++) {
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < rows.length; i++) calls.push(call(b * rows.length + i));
    keep(await Promise.all(calls));
  }
  return (bursts * rows.length) / ((performance.now() - started) / 1000);
}

/** Per-request latency under the same closed loop, in ms. */
async function latency(name: string, call: (i: number) => Promise<unknown>, requests: number): Promise<AsyncResult> {
  const latencies = new Float64Array(requests);
  let next = 0;
  const caller = async () => {
    while (next < requests) {
      const i = next++;
      const start = performance.now();
      keep(await call(i));
      latencies[i] = performance.now() - start;
    }
  };
  await Promise.all(Array.from({ length: rows.length }, caller));
  return summarise(name, latencies);
}

// 2. 256 concurrent callers, under both session settings: the default (one intra-op thread per
// core, as the predict bench runs it) and one thread. The batching configurations: the adaptive
// default (a version's request runs at once when it is idle, the rest as one batch when that run
// ends) at 128 and 256 rows, then two time windows sized for the canary's split of the 256
// callers into about 128 per version: a delay below Node's 1 ms timer floor, and none
// (maxDelayMs 0: a batch runs with whatever arrived in the same event-loop turn).
const BATCHING: Array<{ options: BatchingOptions; note: string }> = [
  { options: {}, note: 'defaults: adaptive, 128 rows' },
  { options: { maxBatchSize: 256 }, note: 'adaptive, 256 rows' },
  { options: { maxBatchSize: 128, maxDelayMs: 0.2 }, note: 'time window 0.2 ms, 128 rows' },
  { options: { maxBatchSize: 128, maxDelayMs: 0 }, note: 'same-turn window, 128 rows' },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] as number;
}

async function concurrent(label: string, options: typeof SESSION | undefined): Promise<void> {
  const bareSession = await InferenceSession.create(bytes, options ?? {});
  const routers: ModelRouter[] = [];
  const runs: Array<[string, (i: number) => Promise<unknown>]> = [
    [`bare session.run × 256 concurrent (${label})`, (i) => bareSession.run({ input: prebuiltRows[i & 255] as Tensor })],
  ];
  for (const { options: batching, note } of BATCHING) {
    const batchingRouter = await canaryRouter(
      new PredictorPool({ registry, create: async (b) => new BatchingPredictor(await OnnxPredictor.create(b, options ?? {}), batching) }),
    );
    routers.push(batchingRouter);
    runs.push([
      `router.predict × 256, batching (${note})`,
      (i) => batchingRouter.predict(rows[i & 255] as number[], { unitId: unitIds[i & 1023] as string }),
    ]);
  }
  for (const [, call] of runs) await throughput(call, 20_000);
  // Each round measures bare and every configuration in turn; each ratio is taken against the
  // same round's bare rate (the same moment's load) and the median of 7 rounds is reported.
  const rates = runs.map((): number[] => []);
  const burstRates = runs.map((): number[] => []);
  for (let r = 0; r < 7; r++) {
    for (let k = 0; k < runs.length; k++) (rates[k] as number[]).push(await throughput((runs[k] as [string, (i: number) => Promise<unknown>])[1], 30_000));
    for (let k = 0; k < runs.length; k++) (burstRates[k] as number[]).push(await burstThroughput((runs[k] as [string, (i: number) => Promise<unknown>])[1], 100));
  }
  const ratiosOf = (series: number[][], k: number) => (series[k] as number[]).map((rate, r) => rate / ((series[0] as number[])[r] as number));
  const latencies: AsyncResult[] = [];
  for (const [name, call] of runs) latencies.push(await latency(name, call, 30_000));
  printTable(
    `256 concurrent callers in a closed loop, one row each, canary 50 %, ${label} (7 rounds × 30 000 requests)`,
    runs.map(([name], k) => ({
      name,
      'requests/s (median)': median(rates[k] as number[]),
      'p50 µs': (latencies[k] as AsyncResult).p50Us,
      'p99 µs': (latencies[k] as AsyncResult).p99Us,
      'vs bare (median)': median(ratiosOf(rates, k)),
      'bursts of 256 vs bare (median)': median(ratiosOf(burstRates, k)),
    })),
  );
  for (let k = 1; k < runs.length; k++) {
    const closed = ratiosOf(rates, k).sort((a, b) => a - b);
    const bursts = ratiosOf(burstRates, k).sort((a, b) => a - b);
    console.log(
      `${(runs[k] as [string, unknown])[0]}: closed loop median ${ratio(closed[3] as number, 1)} (range ${ratio(closed[0] as number, 1)}–${ratio(closed[6] as number, 1)}; target ≥ 8×), ` +
        `bursts median ${ratio(bursts[3] as number, 1)} (range ${ratio(bursts[0] as number, 1)}–${ratio(bursts[6] as number, 1)})`,
    );
  }
  for (const [k, batchingRouter] of routers.entries()) {
    const stable = batchingRouter.monitor.stats(1, { window: 'lifetime' });
    const canary = batchingRouter.monitor.stats(2, { window: 'lifetime' });
    const { note } = BATCHING[k] as (typeof BATCHING)[number];
    console.log(
      `batching (${note}): the monitor saw ${stable.totalRequests} stable + ${canary.totalRequests} canary requests, ${stable.failures + canary.failures} failures`,
    );
    await batchingRouter.pool.dispose();
  }
}
await concurrent('default session options', undefined);
await concurrent('intraOpNumThreads 1', SESSION);
await predictor.dispose();
await router.pool.dispose();
