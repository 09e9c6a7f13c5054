/**
 * `router.predict` with fleet mode on against off, in one run (goal: on within 3 % of off).
 * One router (CanaryDeployment at 50 %, DeploymentMonitor recording, pool warm, iris
 * LinearClassifier); "on" is the same router while a `FleetDeployment` runs beside it in the same
 * process: follower polling (and NOTIFY hints on PostgreSQL), heartbeat and analysis loop, each
 * turn publishing the monitor snapshot, reading and merging every heartbeat, renewing the lease
 * and judging the merged monitor. Two cadences: a service's (analysis every 1 s, follow every
 * 500 ms — already 60× and 10× the defaults), on which the goal is judged, and a stress one
 * (100 ms / 50 ms) that shows what the background work costs when it runs ten times a second.
 * Fleet mode is started before each "on" block and stopped after it, and the blocks alternate
 * off / on (which first alternates too), so the background work lands on the "on" block only (a
 * call-by-call pairing would spread it over both). Per block: CPU time of the process per call
 * (`process.cpuUsage`, user + system: what fleet mode adds, and hardly moved by the other
 * processes of a shared machine, so the goal is judged on it), the wall-clock mean per call
 * (moved by preemption on a loaded machine) and the per-call median (the request path alone).
 * Each pair's ratio is on ÷ off; the median of the pairs is reported with its range. Storage:
 * PostgreSQL when MODEL_ROLLOUT_TEST_PG_URL is set, else MemoryStorage (said in the output).
 * Run alone: `node --expose-gc --import tsx bench/fleet-router.bench.ts`.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  CanaryDeployment,
  DeploymentMonitor,
  FleetDeployment,
  MemoryStorage,
  ModelRegistry,
  OnnxPredictor,
  PredictorPool,
  canaryAnalysis,
  type StorageAdapter,
} from '../src/index.js';
import { ModelRouter } from '../src/router/model-router.js';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { irisClassifier } from '../test/fixtures/onnx-models.js';
import { keep, printTable, ratio } from './harness.js';

const PAIRS = 9;
const CALLS = 60_000;
const GOAL = 1.03;

console.log(`load: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (1/5/15 min)`);
const PG_URL = process.env.MODEL_ROLLOUT_TEST_PG_URL;
const pool = PG_URL ? new pg.Pool({ connectionString: PG_URL, max: 4 }) : undefined;
pool?.on('error', () => undefined);
const table = `mr_bench_fleet_${randomBytes(5).toString('hex')}`;
const postgres = pool ? new PostgresStorage({ pool, table }) : undefined;
await postgres?.migrate();
const storage: StorageAdapter = postgres ?? new MemoryStorage();
console.log(`fleet storage: ${postgres ? 'PostgreSQL (NOTIFY hints on)' : 'MemoryStorage (MODEL_ROLLOUT_TEST_PG_URL not set)'}`);

const registry = new ModelRegistry({ storage: new MemoryStorage() });
await registry.register('iris', irisClassifier());
await registry.register('iris', irisClassifier({ producerVersion: '2' }));
const SESSION = { intraOpNumThreads: 1 } as const;
const canary = new CanaryDeployment({ name: 'iris', stable: 1, canary: 2, steps: [50, 100] });
const monitor = new DeploymentMonitor();
const predictors = new PredictorPool({ registry, create: (b) => OnnxPredictor.create(b, SESSION) });
await predictors.preload('iris', 1);
await predictors.preload('iris', 2);
const router = new ModelRouter({ registry, model: 'iris', policy: canary, monitor, pool: predictors });
const row = [5.9, 3.0, 5.1, 1.8];
const unitIds = Array.from({ length: 1024 }, (_, i) => `user-${i}`);
const hints = postgres ? await postgres.watch({ prefix: 'deployments/' }) : undefined;

/** One block of sequential calls: CPU µs, wall-clock mean µs and median µs per call. */
async function block(offset: number): Promise<{ cpu: number; mean: number; p50: number }> {
  const samples = new Float64Array(CALLS);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    keep(await router.predict(row, { unitId: unitIds[(offset + i) & 1023] as string }));
    samples[i] = performance.now() - t0;
  }
  const wall = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  samples.sort();
  return { cpu: (cpu.user + cpu.system) / CALLS, mean: (wall * 1000) / CALLS, p50: (samples[CALLS >> 1] as number) * 1000 };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1] as number;
const range = (xs: number[]) => `${ratio(median(xs), 1)} (range ${ratio(Math.min(...xs), 1)}–${ratio(Math.max(...xs), 1)})`;

async function cadence(label: string, intervalMs: number, followMs: number, judged: boolean): Promise<void> {
  let turns = 0;
  const fleet = new FleetDeployment({
    storage,
    name: `iris-${intervalMs}`,
    replicaId: 'bench',
    policy: canary,
    monitor,
    // Never concludes during the bench: too few requests to judge is 'inconclusive' (a limit set far away).
    analysis: (merged, { policy: decision }) => canaryAnalysis(decision, { monitor: merged, minRequests: 1e12, maxErrorRate: 0.02, inconclusiveLimit: 1e9 }),
    intervalMs,
    followMs,
    hints,
  });
  fleet.on('analysis', () => turns++);
  fleet.on('error', (e) => console.error('fleet error', e.during, e.error));
  const off: Array<{ cpu: number; mean: number; p50: number }> = [];
  const on: Array<{ cpu: number; mean: number; p50: number }> = [];
  for (let p = 0; p < PAIRS; p++) {
    const offFirst = (p & 1) === 0;
    if (offFirst) off.push(await block(p * CALLS));
    await fleet.start();
    on.push(await block(p * CALLS));
    await fleet.stop();
    if (!offFirst) off.push(await block(p * CALLS));
  }
  const of = (k: 'cpu' | 'mean' | 'p50') => on.map((b, i) => b[k] / (off[i] as { cpu: number; mean: number; p50: number })[k]);
  printTable(`${label}: ${PAIRS} pairs of ${CALLS}-call blocks, fleet mode off / on (µs per call, median over the blocks)`, [
    { name: 'fleet mode off', 'CPU µs': median(off.map((b) => b.cpu)), 'wall mean µs': median(off.map((b) => b.mean)), 'p50 µs': median(off.map((b) => b.p50)) },
    { name: 'fleet mode on', 'CPU µs': median(on.map((b) => b.cpu)), 'wall mean µs': median(on.map((b) => b.mean)), 'p50 µs': median(on.map((b) => b.p50)) },
  ]);
  const cpuRatio = median(of('cpu'));
  console.log(`${label}, on / off: CPU per call ${range(of('cpu'))}, wall mean ${range(of('mean'))}, per-call p50 ${range(of('p50'))}; ${turns} analysis turns in the "on" blocks`);
  if (judged) console.log(`goal: router.predict with fleet mode on within 3 % of off (CPU per call, median of the pairs ${ratio(cpuRatio, 1)} ≤ ${ratio(GOAL, 1)}): ${cpuRatio <= GOAL ? 'met' : 'NOT MET'}`);
}

canary.start(1, 2, 50);
await block(0); // warm-up
await cadence('service cadence (analysis 1 s, follow 500 ms)', 1_000, 500, true);
await cadence('stress cadence (analysis 100 ms, follow 50 ms)', 100, 50, false);
console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
await hints?.close();
await postgres?.drop();
await pool?.end();
