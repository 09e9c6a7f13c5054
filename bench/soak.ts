/**
 * Soak: `REQUESTS` (default 10 M) requests through two routers sharing one registry, pool and
 * monitor: one serving a canary (v1 → v2) under analysis every 30 s, one serving a shadow
 * (v1 answers, v3 is mirrored for 20 % of requests). Heap and RSS are printed after a GC every
 * million requests; the run fails (exit 1) when either grew by more than 20 MB after the first
 * million (warm-up), or when a MaxListenersExceededWarning was emitted.
 *
 * Run: `npm run soak` (or `REQUESTS=2000000 npm run soak`). Needs `--expose-gc` (the script sets it).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import * as ort from 'onnxruntime-node';
import {
  CanaryDeployment,
  canaryAnalysis,
  DeploymentMonitor,
  MemoryStorage,
  ModelRegistry,
  ModelRouter,
  PredictorPool,
  ShadowDeployment,
} from '../src/index.js';
import { irisClassifier } from '../test/fixtures/onnx-models.js';

ort.env.logLevel = 'fatal';
const REQUESTS = Number(process.env['REQUESTS'] ?? 10_000_000);
const CONCURRENCY = 64;
const LIMIT_MB = 20;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run soak does)');

const warnings: string[] = [];
process.on('warning', (warning) => warnings.push(`${warning.name}: ${warning.message}`));

const registry = new ModelRegistry({ storage: new MemoryStorage() });
for (const producerVersion of ['1', '2', '3']) await registry.register('iris', irisClassifier({ producerVersion }));
const monitor = new DeploymentMonitor();
const pool = new PredictorPool({ registry });
const canary = new CanaryDeployment({
  stable: 1,
  canary: 2,
  // 49 steps of 30 s: still progressing under analysis at the end of a 10 M run.
  steps: Array.from({ length: 49 }, (_, i) => 2 * (i + 1)),
});
canary.start();
const analysis = canaryAnalysis(canary, { monitor, intervalMs: 30_000, minRequests: 100, maxErrorRate: 0.05, relative: { maxLatencyRatio: 3 } });
analysis.start();
const shadow = new ShadowDeployment({ primary: 1, shadow: 3, mirrorPercent: 20 });
const routers = [
  new ModelRouter({ registry, model: 'iris', policy: canary, monitor, pool }),
  new ModelRouter({ registry, model: 'iris', policy: shadow, monitor, pool }),
];

const rows = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
];
let failures = 0;
const mb = (bytes: number) => bytes / 1024 / 1024;
function measure(): { heap: number; rss: number } {
  gc!();
  const { heapUsed, rss } = process.memoryUsage();
  return { heap: mb(heapUsed), rss: mb(rss) };
}

console.log(`soak: ${REQUESTS.toLocaleString('en')} requests, ${CONCURRENCY} in flight, canary under analysis + shadow`);
console.log('requests   heap MB   rss MB   canary');
const started = Date.now();
let baseline: { heap: number; rss: number } | undefined;
let worst = { heap: 0, rss: 0 };
for (let done = 0; done < REQUESTS; ) {
  const batch: Array<Promise<unknown>> = [];
  for (let i = 0; i < CONCURRENCY && done < REQUESTS; i++, done++) {
    const router = routers[done & 1]!;
    batch.push(router.predict([rows[done % 3]!], { unitId: `user-${done % 5_000}` }).catch(() => failures++));
  }
  await Promise.all(batch);
  if (done % 1_000_000 === 0 || done === REQUESTS) {
    await yieldToLoop();
    const now = measure();
    if (done >= 1_000_000 && baseline === undefined) baseline = now;
    if (baseline) worst = { heap: Math.max(worst.heap, now.heap - baseline.heap), rss: Math.max(worst.rss, now.rss - baseline.rss) };
    console.log(`${String(done).padStart(9)}  ${now.heap.toFixed(1).padStart(8)}  ${now.rss.toFixed(1).padStart(7)}   ${canary.state.status} ${canary.state.percentage} %`);
  }
}
analysis.stop();
await pool.dispose();
const seconds = (Date.now() - started) / 1000;
const maxListeners = warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'));
console.log(
  `done in ${seconds.toFixed(0)} s (${Math.round(REQUESTS / seconds).toLocaleString('en')} req/s); failed requests ${failures}; growth after warm-up: heap ${worst.heap.toFixed(1)} MB, rss ${worst.rss.toFixed(1)} MB (limit ${LIMIT_MB}); MaxListenersExceededWarning: ${maxListeners.length}; other warnings: ${warnings.length - maxListeners.length}`,
);
if (worst.heap > LIMIT_MB || worst.rss > LIMIT_MB || maxListeners.length > 0 || failures > 0) process.exitCode = 1;
