/**
 * Serving speed, in one run; every ratio is taken against its peer measured in the same round
 * (these machines are shared: absolute numbers move, ratios much less), and each goal is printed
 * with its target and whether it is met.
 * 1. Adaptive batching through the router (`batching: {}`, canary at 50 %, monitor on, pool warm),
 *    one row (`number[]`) per request: at 1 caller against the unbatched router (sequential,
 *    paired), at 16 and 256 callers in a closed loop against as many bare `session.run` callers;
 *    beside it the limit, what one bare run of 128 or 256 rows does per row.
 * 2. `router.predict(Tensor)` against bare `session.run` of the same tensor, sequential, paired, on
 *    iris and on a model with the wake-word detector's input, float32[1,25,96] (2 400 values).
 * 3. The first request routed to a freshly started canary version against the steady p50, with the
 *    pool's warm-up and without it (the latency the router records, and the wall clock).
 *    Then 20 identical blue-green pre-promotion analyses with a relative p99 limit: the same verdict in each?
 * 4. Threads: 4 loaded versions of the wake-word-shaped model, onnxruntime's default session
 *    options against the pool's default (cores / maxLoaded intra-op threads a version).
 * 5. Where the time of one batched request goes: routing, validation, copy-in, run, split, record,
 *    the floor of any JavaScript batching (a promise a batch loop resolves, awaited by a caller), and
 *    the floor of any batching router (route, clock, copy-in, promise, record, nothing else).
 * Every session on the bare side is created with the same options as the pool's (its default
 * `intraOpNumThreads`), except in 4, which compares exactly those options.
 * Run alone: `node --expose-gc --import tsx bench/serving.bench.ts`.
 */
import { performance } from 'node:perf_hooks';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { DeploymentMonitor } from '../src/monitor/deployment-monitor.js';
import { BatchingPredictor } from '../src/predict/batching-predictor.js';
import { FunctionPredictor } from '../src/predict/function-predictor.js';
import { InputPlans } from '../src/predict/inputs.js';
import { toOutputs } from '../src/predict/outputs.js';
import { OnnxPredictor } from '../src/predict/onnx-predictor.js';
import { PredictorPool } from '../src/predict/predictor-pool.js';
import type { PredictInput, PredictOutput } from '../src/predict/types.js';
import { ModelRegistry } from '../src/registry/model-registry.js';
import type { ModelVersion } from '../src/registry/model-version.js';
import { ModelRouter, type ModelRouterOptions } from '../src/router/model-router.js';
import { CanaryDeployment } from '../src/routing/canary.js';
import { BlueGreenSwitch } from '../src/routing/blue-green.js';
import { blueGreenAnalysis } from '../src/analysis/compose.js';
import { MemoryStorage } from '../src/storage/memory-storage.js';
import { irisClassifier, wakeWordShaped } from '../test/fixtures/onnx-models.js';
import { routerFloorCall } from './router-floor.js';
import { keep, printTable, ratio, summarise, timeAsync, timePaired, timeSync, type AsyncResult } from './harness.js';

const row = [5.9, 3.0, 5.1, 1.8];
const rows = Array.from({ length: 256 }, (_, i) => [4 + (i % 7) * 0.5, 2 + (i % 5) * 0.3, 1 + (i % 11) * 0.5, 0.1 + (i % 3) * 0.8]);
const unitIds = Array.from({ length: 1024 }, (_, i) => `user-${i}`);
const irisTensor = new Tensor('float32', Float32Array.from(row), [1, 4]);
const irisRows = rows.map((r) => new Tensor('float32', Float32Array.from(r), [1, 4]));
const wakeTensor = new Tensor('float32', Float32Array.from({ length: 2400 }, (_, i) => Math.sin(i * 0.01)), [1, 25, 96]);

interface Goal {
  goal: string;
  value: number;
  target: string;
  met: boolean;
  note: string;
}
const goals: Goal[] = [];
function goal(name: string, value: number, comparison: '>=' | '<=', target: number, note = ''): void {
  const met = comparison === '>=' ? value >= target : value <= target;
  goals.push({ goal: name, value, target: `${comparison === '>=' ? '≥' : '≤'} ${target}×`, met, note });
  console.log(`GOAL ${name}: ${ratio(value, 1)} (goal ${comparison === '>=' ? '≥' : '≤'} ${target}×) — ${met ? 'met' : 'NOT MET'}${note ? ` (${note})` : ''}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] as number;
}
function range(values: number[]): string {
  return `${ratio(Math.min(...values), 1)}–${ratio(Math.max(...values), 1)}`;
}

const threads = new PredictorPool({ registry: new ModelRegistry({ storage: new MemoryStorage() }) }).intraOpNumThreads;
const SESSION = { intraOpNumThreads: threads } as const;

async function registryOf(bytes: (producerVersion: string) => Uint8Array, versions: number): Promise<ModelRegistry> {
  const registry = new ModelRegistry({ storage: new MemoryStorage() });
  for (let v = 1; v <= versions; v++) await registry.register('m', bytes(String(v)));
  return registry;
}

/** A router over a canary of v2 at 50 % on v1, warmed. */
async function canaryRouter(registry: ModelRegistry, options: Partial<ModelRouterOptions> = {}): Promise<ModelRouter> {
  const canary = new CanaryDeployment({ stable: 1, canary: 2 });
  canary.start(1, 2, 50);
  const router = new ModelRouter({ registry, model: 'm', policy: canary, monitor: new DeploymentMonitor(), ...options });
  await router.warm();
  return router;
}

/** `callers` callers, each sending its next request when its previous one is answered; requests per second. */
async function closedLoop(call: (i: number) => Promise<unknown>, callers: number, requests: number): Promise<number> {
  let next = 0;
  const caller = async () => {
    while (next < requests) keep(await call(next++));
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: callers }, caller));
  return requests / ((performance.now() - started) / 1000);
}

// 1. Adaptive batching through the router.
const irisRegistry = await registryOf((p) => irisClassifier({ producerVersion: p }), 2);
const unbatched = await canaryRouter(irisRegistry);
const batched = await canaryRouter(irisRegistry, { batching: {} });
const bare = await InferenceSession.create(irisClassifier(), SESSION);

const oneCaller: Array<[AsyncResult, AsyncResult]> = [];
for (let r = 0; r < 5; r++) {
  oneCaller.push(
    await timePaired(
      ['router, no batching', 'router, batching (defaults)'],
      (i) => unbatched.predict(row, { unitId: unitIds[i & 1023] as string }),
      (i) => batched.predict(row, { unitId: unitIds[i & 1023] as string }),
      10_000,
      1_000,
    ),
  );
}
const oneCallerRatios = oneCaller.map(([u, b]) => u.trimmedMeanUs / b.trimmedMeanUs);
const lastOne = oneCaller[oneCaller.length - 1] as [AsyncResult, AsyncResult];
printTable(
  '1 caller, sequential, canary 50 %, paired call by call (µs per call, last of 5 rounds)',
  lastOne.map((r) => ({ name: r.name, mean: r.meanUs, 'mean < p99': r.trimmedMeanUs, p50: r.p50Us, p99: r.p99Us })),
);
goal('batching at 1 caller, throughput vs the unbatched router', median(oneCallerRatios), '>=', 0.95, `median of 5 rounds, range ${range(oneCallerRatios)}; mean below p99`);

const limits: Record<number, number> = {};
for (const size of [128, 256]) {
  const big = new Tensor('float32', Float32Array.from(rows.slice(0, size).flat()), [size, 4]);
  const run = await timeAsync(`bare session.run, ${size} rows`, () => bare.run({ input: big }), 3_000, 300);
  limits[size] = size / (run.p50Us / 1e6);
}
let bareRate256: number | undefined;
let batchedRate256: number | undefined;
for (const callers of [16, 256]) {
  const runs: Array<[string, (i: number) => Promise<unknown>]> = [
    [`bare session.run × ${callers} callers`, (i) => bare.run({ input: irisRows[i & 255] as Tensor })],
    [`router.predict × ${callers} callers, batching`, (i) => batched.predict(rows[i & 255] as number[], { unitId: unitIds[i & 1023] as string })],
    [`router.predict × ${callers} callers, no batching`, (i) => unbatched.predict(rows[i & 255] as number[], { unitId: unitIds[i & 1023] as string })],
  ];
  const requests = callers === 16 ? 20_000 : 30_000;
  for (const [, call] of runs) await closedLoop(call, callers, 5_000);
  const rates = runs.map((): number[] => []);
  for (let r = 0; r < 7; r++) for (let k = 0; k < runs.length; k++) (rates[k] as number[]).push(await closedLoop((runs[k] as [string, (i: number) => Promise<unknown>])[1], callers, requests));
  const vsBare = (k: number) => (rates[k] as number[]).map((rate, r) => rate / ((rates[0] as number[])[r] as number));
  const bareRate = median(rates[0] as number[]);
  printTable(
    `${callers} callers in a closed loop, one row each, canary 50 % (7 rounds × ${requests} requests; medians)`,
    [
      ...runs.map(([name], k) => ({ name, 'requests/s': median(rates[k] as number[]), 'vs bare': ratio(median(vsBare(k)), 1) })),
      { name: 'limit: one bare run of 128 rows, per row', 'requests/s': limits[128] as number, 'vs bare': ratio(limits[128] as number, bareRate) },
      { name: 'limit: one bare run of 256 rows, per row', 'requests/s': limits[256] as number, 'vs bare': ratio(limits[256] as number, bareRate) },
    ],
  );
  if (callers === 256) {
    bareRate256 = bareRate;
    batchedRate256 = median(rates[1] as number[]);
  }
  const target = callers === 16 ? 2 : 20;
  goal(
    `batching at ${callers} callers, throughput vs bare`,
    median(vsBare(1)),
    '>=',
    target,
    `median of 7 rounds, range ${range(vsBare(1))}; unbatched router ${ratio(median(vsBare(2)), 1)}; 256-row limit ${ratio(limits[256] as number, bareRate)}`,
  );
}
const seen = [1, 2].map((v) => batched.monitor.stats(v, { window: 'lifetime' }));
console.log(`batching router: the monitor saw ${seen[0]?.totalRequests} stable + ${seen[1]?.totalRequests} canary requests, ${(seen[0]?.failures ?? 0) + (seen[1]?.failures ?? 0)} failures`);

// 2. router.predict(Tensor) vs bare, sequential, paired.
const wakeRegistry = await registryOf((p) => wakeWordShaped({ producerVersion: p }), 2);
const wakeRouter = await canaryRouter(wakeRegistry);
const wakeBare = await InferenceSession.create(wakeWordShaped(), SESSION);
for (const [label, router, session, tensor, target] of [
  ['iris', unbatched, bare, irisTensor, 1.05],
  ['wake-word shape, 2 400 values', wakeRouter, wakeBare, wakeTensor, 1.1],
] as const) {
  const rounds: Array<[AsyncResult, AsyncResult]> = [];
  const feeds = { [session.inputNames[0] as string]: tensor };
  for (let r = 0; r < 5; r++) {
    rounds.push(
      await timePaired(
        ['bare session.run', 'router.predict(tensor, { unitId })'],
        () => session.run(feeds),
        (i) => router.predict(tensor, { unitId: unitIds[i & 1023] as string }),
        10_000,
        1_000,
      ),
    );
  }
  const p50s = rounds.map(([b, o]) => o.p50Us / b.p50Us);
  const means = rounds.map(([b, o]) => o.trimmedMeanUs / b.trimmedMeanUs);
  const [b, o] = rounds[rounds.length - 1] as [AsyncResult, AsyncResult];
  printTable(`${label}: one request at a time, canary 50 %, paired (µs per call, last of 5 rounds)`, [b, o].map((r) => ({ name: r.name, mean: r.meanUs, 'mean < p99': r.trimmedMeanUs, p50: r.p50Us, p99: r.p99Us })));
  goal(`router.predict(Tensor) vs bare, ${label}, p50`, median(p50s), '<=', target, `median of 5 rounds, range ${range(p50s)}; mean below p99 ${ratio(median(means), 1)}`);
}

// 2a. The floor of the iris goal: hand-written routers that do only what cannot be left out, paired
// with bare in the same way. "minimal": route the unit id (the canary's hash), read the clock before
// and after, one `then` on the session's promise, record the latency in a DeploymentMonitor, and
// answer { output, version, variant, latencyMs } with the int64 label as a number. "+ validation and
// conversion": the same with the library's own check of the Tensor (type and dims, InputPlans) and its
// output conversion with the non-finite check (toOutputs). What the router costs beyond the second is
// its own structure: options and pool lookup, the request object, its promise, the predictor's callback.
const floorSessions = [bare, await InferenceSession.create(irisClassifier({ producerVersion: '2' }), SESSION)] as const;
const floorPolicy = new CanaryDeployment({ stable: 1, canary: 2 });
floorPolicy.start(1, 2, 50);
const floorMonitor = new DeploymentMonitor();
const floorAt = { at: 0 };
const floorPlans = new InputPlans((await unbatched.pool.get('m', 1)).signature!, '');
const irisOutputs = ['label', 'probabilities'];
function handWritten(i: number, library: boolean): Promise<unknown> {
  const assignment = floorPolicy.route({ unitId: unitIds[i & 1023] as string });
  let feeds: Record<string, Tensor>;
  if (library) {
    feeds = floorPlans.toFeeds(irisTensor);
  } else {
    feeds = {};
    feeds.input = irisTensor;
  }
  const started = performance.now();
  return (floorSessions[assignment.version - 1] as InferenceSession).run(feeds).then((results) => {
    const ended = performance.now();
    const latencyMs = ended - started;
    floorAt.at = performance.timeOrigin + ended;
    floorMonitor.record(assignment.version, latencyMs, true, floorAt);
    const { label, probabilities } = results as Record<string, Tensor>;
    const output = library
      ? toOutputs(results, irisOutputs, undefined, 'model: ')
      : {
          label: { data: [Number((label!.data as BigInt64Array)[0])], dims: label!.dims, type: label!.type },
          probabilities: { data: probabilities!.data, dims: probabilities!.dims, type: probabilities!.type },
        };
    return { output, version: assignment.version, variant: assignment.variant, latencyMs };
  });
}
const floorRows: Array<Record<string, string | number>> = [];
for (const [name, call] of [
  ['hand-written router, minimal', (i: number) => handWritten(i, false)],
  ['hand-written router + validation and conversion', (i: number) => handWritten(i, true)],
  ['router.predict(tensor, { unitId })', (i: number) => unbatched.predict(irisTensor, { unitId: unitIds[i & 1023] as string })],
] as const) {
  const feeds = { input: irisTensor };
  const ratios: number[] = [];
  const overs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const [b, o] = await timePaired(['bare session.run', name], () => bare.run(feeds), call, 10_000, 1_000);
    ratios.push(o.p50Us / b.p50Us);
    overs.push(o.p50Us - b.p50Us);
  }
  floorRows.push({ name, 'p50 vs bare (median of 5)': ratio(median(ratios), 1), range: range(ratios), 'µs over bare (median)': median(overs) });
}
printTable('iris: the floor, hand-written routers against bare, paired (5 rounds each)', floorRows);

// 3. The first routed request to a new version: the latency the router records for it (what the
// monitor, and so a relative-latency analysis, sees) against the steady p50 of the same, and the
// host's wall-clock view of the call (which also pays the monitor's first record of a version).
// An isolated request is slower than the p50 of a tight loop whatever the version (cold caches after
// the pause), so each trial also times an isolated request to the long-warm stable version in the
// same position: trials alternate which of the two goes first after the preparation.
async function firstRequests(
  warmUp: boolean,
  trials: number,
): Promise<{ recorded: number[]; wall: number[]; isolatedStable: number[]; steady: number; steadyWall: number }> {
  const registry = await registryOf((p) => irisClassifier({ producerVersion: p }), trials + 1);
  const canary = new CanaryDeployment({ stable: 1, canary: 2 });
  const router = new ModelRouter({ registry, model: 'm', policy: canary, monitor: new DeploymentMonitor(), warmUp });
  await router.warm();
  for (let i = 0; i < 2_000; i++) await router.predict(row, { unitId: unitIds[i & 1023] as string });
  const recorded: number[] = [];
  const wall: number[] = [];
  const isolatedStable: number[] = [];
  for (let v = 2; v <= trials + 1; v++) {
    canary.start(1, v, 50);
    await router.warm();
    const canaryUnit = unitIds.find((id) => canary.route({ unitId: id }).variant === 'canary') as string;
    const stableUnit = unitIds.find((id) => canary.route({ unitId: id }).variant === 'stable') as string;
    if ((v & 1) === 1) isolatedStable.push((await router.predict(row, { unitId: stableUnit })).latencyMs * 1000);
    const started = performance.now();
    const answer = await router.predict(row, { unitId: canaryUnit });
    wall.push((performance.now() - started) * 1000);
    recorded.push(answer.latencyMs * 1000);
    if (answer.version !== v) throw new Error(`expected the first request to reach v${v}, got v${answer.version}`);
    canary.abort('next trial');
  }
  const latencies = new Float64Array(5_000);
  const walls = new Float64Array(5_000);
  for (let i = 0; i < latencies.length; i++) {
    const started = performance.now();
    latencies[i] = (await router.predict(row, { unitId: unitIds[i & 1023] as string })).latencyMs;
    walls[i] = performance.now() - started;
  }
  await router.pool.dispose();
  return { recorded, wall, isolatedStable, steady: summarise('steady', latencies).p50Us, steadyWall: summarise('steady', walls).p50Us };
}
const TRIALS = 20;
const warm = await firstRequests(true, TRIALS);
const cold = await firstRequests(false, TRIALS);
const within = (values: number[], steady: number) => `${values.filter((v) => v <= 2 * steady).length} of ${TRIALS}`;
printTable(`first request routed to a freshly started canary version (${TRIALS} versions each), µs`, [
  { name: 'warmed by the pool (default): recorded latency', 'steady p50': warm.steady, 'first, median': median(warm.recorded), 'first, max': Math.max(...warm.recorded), 'within 2× steady': within(warm.recorded, warm.steady) },
  { name: 'warmed by the pool (default): wall clock', 'steady p50': warm.steadyWall, 'first, median': median(warm.wall), 'first, max': Math.max(...warm.wall), 'within 2× steady': within(warm.wall, warm.steadyWall) },
  { name: 'warmUp: false (before): recorded latency', 'steady p50': cold.steady, 'first, median': median(cold.recorded), 'first, max': Math.max(...cold.recorded), 'within 2× steady': within(cold.recorded, cold.steady) },
  { name: 'warmUp: false (before): wall clock', 'steady p50': cold.steadyWall, 'first, median': median(cold.wall), 'first, max': Math.max(...cold.wall), 'within 2× steady': within(cold.wall, cold.steadyWall) },
]);
const firstOnly = warm.recorded.filter((_, i) => (i & 1) === 0);
console.log(
  `isolated request (first after the preparation), recorded latency, median: new version ${median(firstOnly).toFixed(1)} µs, ` +
    `long-warm stable version ${median(warm.isolatedStable).toFixed(1)} µs (${ratio(median(firstOnly), median(warm.isolatedStable))}); steady p50 ${warm.steady.toFixed(1)} µs`,
);
const warmRatios = warm.recorded.map((f) => f / warm.steady);
const coldRatios = cold.recorded.map((f) => f / cold.steady);
console.log(
  `first request isolated (after the preparation, nothing else running): median ${ratio(median(warmRatios), 1)} the steady p50, worst ${ratio(Math.max(...warmRatios), 1)}, ` +
    `${within(warm.recorded, warm.steady)} within 2×; vs an isolated request to the warm stable version ${ratio(median(firstOnly), median(warm.isolatedStable))}; ` +
    `wall clock median ${ratio(median(warm.wall) / warm.steadyWall, 1)}; without warm-up median ${ratio(median(coldRatios), 1)}, worst ${ratio(Math.max(...coldRatios), 1)}`,
);

// 3a. The same first request amid traffic, as a service meets it: one caller sends requests to
// stable units back to back; the canary starts between two of them, the router loads and warms the
// new version while that traffic goes on, and the caller's first request after router.ready()
// turns true goes to a canary unit. The steady p50 is that caller's stable requests' (recorded
// latency) between preparations. This is what the goal is judged on: the isolated figure above
// is as slow for the long-warm stable version, so it measures the pause, not the new version.
async function firstRequestsAmidTraffic(trials: number): Promise<{ recorded: number[]; steady: number; during: number[] }> {
  const registry = await registryOf((p) => irisClassifier({ producerVersion: p }), trials + 1);
  const canary = new CanaryDeployment({ stable: 1, canary: 2 });
  const router = new ModelRouter({ registry, model: 'm', policy: canary, monitor: new DeploymentMonitor() });
  await router.warm();
  // Units keep their bucket from one trial to the next (same salt, same 50 %): read them off a twin
  // policy, so that no version is prepared before its trial.
  const twin = new CanaryDeployment({ stable: 1, canary: 2 });
  twin.start(1, 2, 50);
  const stableUnits = unitIds.filter((id) => twin.route({ unitId: id }).variant === 'stable');
  const canaryUnit = unitIds.find((id) => twin.route({ unitId: id }).variant === 'canary') as string;
  let next = 0;
  const stableRequest = async () => (await router.predict(row, { unitId: stableUnits[next++ % stableUnits.length] as string })).latencyMs * 1000;
  for (let i = 0; i < 2_000; i++) await stableRequest();
  const steady: number[] = [];
  const recorded: number[] = [];
  const during: number[] = [];
  for (let v = 2; v <= trials + 1; v++) {
    for (let i = 0; i < 250; i++) steady.push(await stableRequest());
    canary.start(1, v, 50);
    let served = 0;
    for (; !router.ready(); served++) await stableRequest();
    const answer = await router.predict(row, { unitId: canaryUnit });
    if (answer.version !== v) throw new Error(`expected the first canary request to reach v${v}, got v${answer.version}`);
    recorded.push(answer.latencyMs * 1000);
    during.push(served);
    canary.abort('next trial');
  }
  await router.pool.dispose();
  return { recorded, steady: median(steady), during };
}
const amid = await firstRequestsAmidTraffic(TRIALS);
const amidRatios = amid.recorded.map((f) => f / amid.steady);
printTable(`first request to a freshly started canary version amid traffic to stable (${TRIALS} versions), µs`, [
  {
    name: 'warmed by the router while the traffic goes on: recorded latency',
    'steady p50': amid.steady,
    'first, median': median(amid.recorded),
    'first, max': Math.max(...amid.recorded),
    'within 2× steady': within(amid.recorded, amid.steady),
    'stable requests served meanwhile (median)': median(amid.during),
  },
]);
goal(
  'first routed request to a new version vs steady p50, amid traffic (recorded latency)',
  median(amidRatios),
  '<=',
  2,
  `median of ${TRIALS} versions, worst ${ratio(Math.max(...amidRatios), 1)}, ${within(amid.recorded, amid.steady)} within 2×; isolated (above, not the goal's measure) median ${ratio(median(warmRatios), 1)}`,
);

// 3b. A verdict that depends on latency: a blue-green pre-promotion analysis with a relative p99
// limit, run 20 times on identical versions. With the pool's warm-up the preview's first requests
// are not cold, so every run should give the same verdict. This is a timing, so it lives here and
// not in the test suite (on a shared machine one preempted request can move a sub-millisecond p99).
const VERDICT_RUNS = 20;
const verdicts: string[] = [];
for (let run = 0; run < VERDICT_RUNS; run++) {
  const registry = await registryOf((p) => irisClassifier({ producerVersion: p }), 2);
  const monitor = new DeploymentMonitor();
  const bg = new BlueGreenSwitch({ blue: 1 });
  const analyses = blueGreenAnalysis(bg, { monitor, prePromotion: { minRequests: 1_000, relative: { maxLatencyRatio: 3 } } });
  const router = new ModelRouter({ registry, model: 'm', policy: bg, monitor });
  await router.warm();
  bg.deploy(2);
  await router.warm();
  // Active and preview requests alternate, so both versions meet the same moments of the machine.
  for (let i = 0; i < 2_000; i++) await router.predict(row, { unitId: unitIds[i & 1023] as string, preview: (i & 1) === 1 });
  verdicts.push((await analyses.analyze()).outcome);
  analyses.dispose();
  await router.pool.dispose();
}
const majority = [...new Set(verdicts)].map((v) => ({ v, n: verdicts.filter((x) => x === v).length })).sort((a, b) => b.n - a.n)[0]!;
const sameVerdictMet = majority.n === VERDICT_RUNS && majority.v === 'successful';
goals.push({ goal: `blue-green pre-promotion verdict (relative.maxLatencyRatio 3), identical runs`, value: majority.n / VERDICT_RUNS, target: `${VERDICT_RUNS} of ${VERDICT_RUNS} 'successful'`, met: sameVerdictMet, note: '' });
console.log(`GOAL same blue-green pre-promotion verdict in ${majority.n} of ${VERDICT_RUNS} runs ('${majority.v}'; all: ${verdicts.join(', ')}) (goal ${VERDICT_RUNS} of ${VERDICT_RUNS} 'successful') — ${sameVerdictMet ? 'met' : 'NOT MET'}`);

// 4. Threads with 4 loaded versions.
const fourRegistry = await registryOf((p) => wakeWordShaped({ producerVersion: p }), 4);
const wakeDefaultBare = await InferenceSession.create(wakeWordShaped());
async function fourLoaded(create: ((bytes: Uint8Array, v: ModelVersion) => Promise<OnnxPredictor>) | undefined): Promise<ModelRouter> {
  const pool = new PredictorPool({ registry: fourRegistry, ...(create ? { create } : {}) });
  const router = await canaryRouter(fourRegistry, { pool });
  await pool.preload('m', 3);
  await pool.preload('m', 4);
  return router;
}
const ortDefaults = await fourLoaded((b, v) => OnnxPredictor.create(b, { name: v.name, version: v.version }));
const poolDefaults = await fourLoaded(undefined);
const threadRows: Array<Record<string, string | number>> = [];
const threadRatios: Record<string, number[]> = { ort: [], pool: [], ortLoop: [], poolLoop: [] };
for (let r = 0; r < 3; r++) {
  for (const [key, router] of [['ort', ortDefaults], ['pool', poolDefaults]] as const) {
    const [b, o] = await timePaired(['bare (onnxruntime defaults)', key], () => wakeDefaultBare.run({ x: wakeTensor }), (i) => router.predict(wakeTensor, { unitId: unitIds[i & 1023] as string }), 5_000, 500);
    (threadRatios[key] as number[]).push(o.p50Us / b.p50Us);
    const loop = await closedLoop((i) => router.predict(wakeTensor, { version: 1 + (i & 3) }), 16, 10_000);
    (threadRatios[`${key}Loop`] as number[]).push(loop);
  }
}
for (const [key, label] of [['ort', `onnxruntime defaults (a thread per core, ${4} versions)`], ['pool', `pool default (${threads} intra-op thread(s) a version)`]] as const) {
  threadRows.push({
    name: label,
    'sequential p50 vs bare (median of 3)': ratio(median(threadRatios[key] as number[]), 1),
    '16 callers over the 4 versions, requests/s (median)': median(threadRatios[`${key}Loop`] as number[]),
  });
}
printTable('wake-word-shaped model, 4 versions loaded (2 in the canary, 2 idle), bare with onnxruntime defaults', threadRows);
console.log(`threads: pool default / onnxruntime defaults, 16 callers: ${ratio(median(threadRatios.poolLoop as number[]), median(threadRatios.ortLoop as number[]))} the throughput`);

// 5. Where one batched request's time goes (iris, one row).
const irisSignature = (await batched.pool.get('m', 1)).signature!;
const plans = new InputPlans(irisSignature, '');
const plan = plans.plans[0]!;
const buffer = plan.allocate(128 * plan.rowSize);
const breakdownPolicy = new CanaryDeployment({ stable: 1, canary: 2 });
breakdownPolicy.start(1, 2, 50);
const routing = timeSync('route', (i) => breakdownPolicy.route({ unitId: unitIds[i & 1023] as string }), 1_000_000);
const validation = timeSync('validation', (i) => plan.rowsOfAny(rows[i & 255] as number[]), 1_000_000);
const copyIn = timeSync('copy-in', (i) => plan.writeAny(rows[i & 255] as number[], buffer, (i & 127) * 4), 1_000_000);
const recordMonitor = new DeploymentMonitor();
const record = timeSync('record', (i) => recordMonitor.record(1 + (i & 1), 0.05, true, { at: performance.timeOrigin + performance.now() }), 1_000_000);
// The batch's tensor is built once, outside the timing: building it from 128 arrays is not the run.
const batch128 = new Tensor('float32', Float32Array.from(rows.slice(0, 128).flat()), [128, 4]);
const bigRun = await timeAsync('run', () => bare.run({ input: batch128 }), 3_000, 300);
// Split, and the promise bookkeeping around it: a BatchingPredictor over an inner that answers a
// ready 128-row output at once, minus the validation and copy-in measured above.
const ready128 = await bare.run({ input: new Tensor('float32', Float32Array.from(rows.slice(0, 128).flat()), [128, 4]) });
const output128: PredictOutput = {
  label: { data: Array.from(ready128.label!.data as BigInt64Array, Number), dims: [128], type: 'int64' },
  probabilities: { data: ready128.probabilities!.data as Float32Array, dims: [128, 3], type: 'float32' },
};
const outputOf = (n: number): PredictOutput => ({
  label: { data: (output128.label!.data as number[]).slice(0, n), dims: [n], type: 'int64' },
  probabilities: { data: (output128.probabilities!.data as Float32Array).subarray(0, n * 3), dims: [n, 3], type: 'float32' },
});
const outputsBySize = Array.from({ length: 129 }, (_, n) => outputOf(n));
const instant = new BatchingPredictor(
  new FunctionPredictor<PredictInput, PredictOutput>((input) => outputsBySize[input instanceof Tensor ? (input.dims[0] as number) : 1] as PredictOutput, { signature: irisSignature }),
  { maxBatchSize: 128 },
);
const burst = async () => {
  const calls: Array<Promise<unknown>> = [instant.predict(rows[0] as number[])];
  for (let i = 1; i < 129; i++) calls.push(instant.predict(rows[i & 255] as number[]));
  keep(await Promise.all(calls));
};
const batchingOnly = await timeAsync('batching bookkeeping', burst, 3_000, 300);
// The floors (bench/router-floor.ts), 256 callers in a closed loop, median of 5 rounds: of any
// batching in JavaScript (a promise a batch loop resolves once a turn, awaited, nothing else), and
// of any batching router (also the route, one clock reading, the copy-in and one record; section
// 2a's canary and monitor). The second plus the run's share of a row is the least a batched
// request can cost on this runtime.
async function floorUsOf(call: (i: number) => Promise<unknown>): Promise<number> {
  await closedLoop(call, 256, 100_000);
  const rates: number[] = [];
  for (let r = 0; r < 5; r++) rates.push(await closedLoop(call, 256, 200_000));
  return 1e6 / median(rates);
}
const floorUs = await floorUsOf(routerFloorCall(floorPolicy, floorMonitor, rows, unitIds, false));
const routerFloorUs = await floorUsOf(routerFloorCall(floorPolicy, floorMonitor, rows, unitIds, true));
const perRequestBatching = batchingOnly.p50Us / 128;
const breakdown = [
  { part: 'routing (policy.route, short ids)', us: routing.nsPerOp / 1000 },
  { part: 'validation (rows and dims of a number[] row)', us: validation.nsPerOp / 1000 },
  { part: 'copy-in (values checked and written into the batch)', us: copyIn.nsPerOp / 1000 },
  { part: 'run (one bare run of 128 rows, per row)', us: bigRun.p50Us / 128 },
  { part: 'split + promises (batching over an instant model, minus the two above)', us: Math.max(0, perRequestBatching - (validation.nsPerOp + copyIn.nsPerOp) / 1000) },
  { part: 'record (monitor.record with the router’s end time as at)', us: record.nsPerOp / 1000 },
  { part: 'promise floor (a closed-loop caller awaiting a promise a batch loop resolves)', us: floorUs },
];
printTable('per-request cost of a batched request, iris, µs (micro-benchmarks, p50 or best round)', breakdown);
const partsUs = breakdown.reduce((n, b) => n + b.us, 0);
const bare256Us = 1e6 / (bareRate256 as number);
console.log(
  `sum ${partsUs.toFixed(3)} µs a request, so at best ${ratio(bare256Us, partsUs)} the bare rate at 256 callers (${bare256Us.toFixed(2)} µs a request); ` +
    `measured ${(1e6 / (batchedRate256 as number)).toFixed(3)} µs a request (${ratio(batchedRate256 as number, bareRate256 as number)}): the rest is the router's request object and result, the event loop's turns, and GC`,
);
const runShareUs = bigRun.p50Us / 128;
console.log(
  `router floor (route, clock, copy-in, request, promise, record; no run, no output, 256 callers, median of 5): ${routerFloorUs.toFixed(3)} µs a request; ` +
    `with the run's share of a row (${runShareUs.toFixed(3)} µs) ${(routerFloorUs + runShareUs).toFixed(3)} µs, so no batching router can pass ` +
    `${ratio(bare256Us, routerFloorUs + runShareUs)} the bare rate at 256 callers in this round (goal 20×, measured ${ratio(batchedRate256 as number, bareRate256 as number)})`,
);

// What validating one wake-word-shaped input costs, by form: a Tensor is checked for type and dims
// only; nested arrays are checked value by value while they are converted.
const wakeSignature = (await wakeRouter.pool.get('m', 1)).signature!;
const wakePlans = new InputPlans(wakeSignature, '');
const nested = Array.from({ length: 25 }, (_, f) => Array.from({ length: 96 }, (_, k) => Math.sin((f * 96 + k) * 0.01)));
const byTensor = timeSync('Tensor', () => wakePlans.toFeeds(wakeTensor), 1_000_000);
const byNested = timeSync('number[25][96]', () => wakePlans.toFeeds(nested), 50_000);
printTable('validation and conversion of one float32[1,25,96] input (2 400 values), µs', [
  { form: 'Tensor (type and dims only)', us: byTensor.nsPerOp / 1000 },
  { form: 'number[25][96] (converted, every value checked)', us: byNested.nsPerOp / 1000, 'ns a value': byNested.nsPerOp / 2400 },
]);

printTable('goals', goals.map((g) => ({ goal: g.goal, value: ratio(g.value, 1), target: g.target, result: g.met ? 'met' : 'NOT MET' })));
await Promise.all([unbatched, batched, wakeRouter, ortDefaults, poolDefaults].map((r) => r.pool.dispose()));
await instant.dispose();
await Promise.all([bare, wakeBare, wakeDefaultBare].map((s) => s.release()));
