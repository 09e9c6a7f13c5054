/**
 * Instructions a request, for `valgrind --tool=callgrind` (counts that do not move with the load):
 * warms a closed loop of 256 callers up, then runs a measured window between two markers that
 * callgrind dumps at (`process.getegid()` before, `process.geteuid()` after), so the last dump but
 * one holds exactly the window. See `bench/instructions/serving.sh` and docs/performance.md.
 *
 * Modes (iris, one row a request):
 * - `batched`: `router.predict(row, { unitId })` through a batching router (`batching: {}`), canary 50 %;
 * - `bare`: `session.run` of a one-row tensor;
 * - `floor`: the least any batching router must do (route, one clock reading, the row copied into a
 *   batch buffer, one promise a batch loop resolves once a turn, one monitor record), no run;
 * - `promise`: the caller's loop and one promise a batch loop resolves, nothing else.
 *
 * Usage: `node --import tsx bench/instructions/serving-window.ts <mode> <warm-up requests> <measured requests>`
 */
import { performance } from 'node:perf_hooks';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { DeploymentMonitor } from '../../src/monitor/deployment-monitor.js';
import { ModelRegistry } from '../../src/registry/model-registry.js';
import { ModelRouter } from '../../src/router/model-router.js';
import { CanaryDeployment } from '../../src/routing/canary.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { irisClassifier } from '../../test/fixtures/onnx-models.js';
import { routerFloorCall } from '../router-floor.js';

const [mode = 'batched', warmArg = '100000', measuredArg = '50000'] = process.argv.slice(2);
const CALLERS = 256;
const rows = Array.from({ length: 256 }, (_, i) => [4 + (i % 7) * 0.5, 2 + (i % 5) * 0.3, 1 + (i % 11) * 0.5, 0.1 + (i % 3) * 0.8]);
const tensors = rows.map((r) => new Tensor('float32', Float32Array.from(r), [1, 4]));
const unitIds = Array.from({ length: 1024 }, (_, i) => `user-${i}`);

/** Counts the runs of every onnxruntime session, so a window reports its rows a run (batch size). */
let runs = 0;
let runRows = 0;
const probe = await InferenceSession.create(irisClassifier());
const sessionPrototype = Object.getPrototypeOf(probe) as { run: (feeds: Record<string, Tensor>, ...rest: unknown[]) => Promise<unknown> };
const run = sessionPrototype.run;
sessionPrototype.run = function (this: unknown, feeds, ...rest) {
  runs++;
  runRows += Object.values(feeds)[0]?.dims[0] ?? 0;
  return run.call(this, feeds, ...rest);
};

async function batchedCall(): Promise<(i: number) => Promise<unknown>> {
  const registry = new ModelRegistry({ storage: new MemoryStorage() });
  for (const v of ['1', '2']) await registry.register('m', irisClassifier({ producerVersion: v }));
  const canary = new CanaryDeployment({ stable: 1, canary: 2 });
  canary.start(1, 2, 50);
  const router = new ModelRouter({ registry, model: 'm', policy: canary, monitor: new DeploymentMonitor(), batching: {} });
  await router.warm();
  return (i) => router.predict(rows[i & 255] as number[], { unitId: unitIds[i & 1023] as string });
}

async function bareCall(): Promise<(i: number) => Promise<unknown>> {
  const session = await InferenceSession.create(irisClassifier(), { intraOpNumThreads: 1 });
  return (i) => session.run({ input: tensors[i & 255] as Tensor });
}

async function callOf(name: string): Promise<(i: number) => Promise<unknown>> {
  if (name === 'batched') return batchedCall();
  if (name === 'bare') return bareCall();
  if (name === 'floor' || name === 'promise') {
    const policy = new CanaryDeployment({ stable: 1, canary: 2 });
    policy.start(1, 2, 50);
    return routerFloorCall(policy, new DeploymentMonitor(), rows, unitIds, name === 'floor');
  }
  throw new Error(`mode must be batched, bare, floor or promise, got ${name}`);
}
const call = await callOf(mode);
// The markers: callgrind dumps before each (Linux only, where valgrind runs).
const markStart = process.getegid as () => number;
const markEnd = process.geteuid as () => number;

let answered = 0;
async function closedLoop(requests: number): Promise<void> {
  let next = 0;
  const caller = async () => {
    while (next < requests) if ((await call(next++)) !== undefined) answered++;
  };
  await Promise.all(Array.from({ length: CALLERS }, caller));
}

await closedLoop(Number(warmArg));
runs = 0;
runRows = 0;
markStart();
const started = performance.now();
await closedLoop(Number(measuredArg));
const ended = performance.now();
markEnd();
console.error(
  `${mode}: ${measuredArg} requests in the window, ${(((ended - started) * 1000) / Number(measuredArg)).toFixed(2)} µs a request ` +
    `(slow under valgrind), ${runs} runs, ${runs === 0 ? 0 : (runRows / runs).toFixed(1)} rows a run, ${answered} answered`,
);
await probe.release();
process.exit(0);
