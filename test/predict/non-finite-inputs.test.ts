/**
 * Tensor inputs are passed to onnxruntime without a scan of their values (for speed), so a NaN in
 * one reaches the model and comes out as a non-finite output. Such a run is the caller's mistake,
 * not the version's failure: the inputs are scanned once, on that failure path, and a NaN or
 * ±Infinity there is an `InputShapeError`, which a router does not count against the version, so
 * a hostile client cannot push a canary toward rollback with NaN tensors.
 */
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BatchingPredictor,
  CanaryDeployment,
  DeploymentMonitor,
  InferenceError,
  InputShapeError,
  MemoryStorage,
  ModelRegistry,
  ModelRouter,
  OnnxPredictor,
} from '../../src/index.js';
import { irisClassifier, twoInput } from '../fixtures/onnx-models.js';

ort.env.logLevel = 'fatal';

const SETOSA = [5.1, 3.5, 1.4, 0.2];
const row = (values: number[]) => new ort.Tensor('float32', Float32Array.from(values), [1, 4]);

const disposers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(disposers.splice(0).map((d) => d()));
});

async function iris(options: Parameters<typeof OnnxPredictor.create>[1] = {}): Promise<OnnxPredictor> {
  const predictor = await OnnxPredictor.create(irisClassifier(), { name: 'iris', version: 2, ...options });
  disposers.push(() => predictor.dispose());
  return predictor;
}

describe('OnnxPredictor: a non-finite value in an unscanned input', () => {
  it('a NaN in a Tensor is an InputShapeError naming the input and the index, not an InferenceError', async () => {
    const predictor = await iris();
    const err = await predictor.predict(row([5.1, Number.NaN, 1.4, 0.2])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputShapeError);
    expect((err as Error).message).toBe(
      "model 'iris' v2: expected 'input' float32[N,4] with finite values, got number NaN at index 1; a non-finite input gives a non-finite output, which is never served",
    );
    expect((await predictor.predict(row(SETOSA))).label!.data).toEqual([0]);
  });

  it('so is ±Infinity, in { data, dims } of the own type, in a record of inputs and with a signal', async () => {
    const predictor = await iris();
    const signal = new AbortController().signal;
    await expect(predictor.predict({ data: Float32Array.from([1, 2, Number.POSITIVE_INFINITY, 4]), dims: [1, 4] })).rejects.toThrow(
      /with finite values, got number Infinity at index 2/,
    );
    await expect(predictor.predict(row([Number.NEGATIVE_INFINITY, 1, 1, 1]), { signal })).rejects.toThrow(/got number -Infinity at index 0/);
    const two = await OnnxPredictor.create(twoInput());
    disposers.push(() => two.dispose());
    const a = new ort.Tensor('float32', Float32Array.from([1, 1]), [1, 2]);
    const b = new ort.Tensor('float32', Float32Array.from([1, Number.NaN]), [1, 2]);
    await expect(two.predict({ a, b })).rejects.toThrow(InputShapeError);
    await expect(two.predict({ a, b })).rejects.toThrow(/expected 'b' float32\[N,2\] with finite values, got number NaN at index 1/);
  });

  it('finite inputs whose output overflows are still the version\'s InferenceError', async () => {
    const predictor = await iris();
    await expect(predictor.predict(row([3e38, 3e38, 3e38, 3e38]))).rejects.toBeInstanceOf(InferenceError);
  });

  it('checkFiniteOutputs: false serves what the model gives, without looking at the inputs', async () => {
    const predictor = await iris({ checkFiniteOutputs: false });
    const output = await predictor.predict(row([Number.NaN, 1, 1, 1]));
    expect(Number.isNaN((output.probabilities!.data as Float32Array)[0])).toBe(true);
  });
});

describe('BatchingPredictor: one caller\'s NaN fails only that caller', () => {
  it('batch-mates of a NaN Tensor get their answers; the NaN caller gets its InputShapeError with its own index', async () => {
    const batching = new BatchingPredictor(await OnnxPredictor.create(irisClassifier(), { name: 'iris', version: 2 }), { maxDelayMs: 0 });
    disposers.push(() => batching.dispose());
    const bad = new ort.Tensor('float32', Float32Array.from([5.1, 3.5, 1.4, 0.2, 6, 3, 5, Number.NaN]), [2, 4]);
    const calls = [
      batching.predict(SETOSA),
      batching.predict(bad),
      batching.predict(row([6.7, 3.0, 5.2, 2.3])),
      batching.predict(Float32Array.from([5.1, 3.5, 1.4, Number.NaN])),
      batching.predict([SETOSA, SETOSA]),
    ];
    const settled = await Promise.allSettled(calls);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    const reason = (i: number) => (settled[i] as PromiseRejectedResult).reason as Error;
    expect(reason(1)).toBeInstanceOf(InputShapeError);
    expect(reason(1).message).toMatch(/got number NaN at index 7;/);
    expect(reason(3)).toBeInstanceOf(InputShapeError);
    expect(reason(3).message).toMatch(/got number NaN at index 3;/);
    const value = (i: number) => (settled[i] as PromiseFulfilledResult<Awaited<(typeof calls)[number]>>).value;
    expect([...value(0).label!.data]).toEqual([0]);
    expect([...value(2).label!.data]).toEqual([2]);
    expect([...value(4).label!.data]).toEqual([0, 0]);
    expect(value(4).probabilities!.dims).toEqual([2, 3]);
  });
});

describe('ModelRouter: NaN tensors do not count against the canary', () => {
  async function canaryRouter(batching: boolean) {
    const registry = new ModelRegistry({ storage: new MemoryStorage() });
    await registry.register('iris', irisClassifier());
    await registry.register('iris', irisClassifier());
    const monitor = new DeploymentMonitor();
    const canary = new CanaryDeployment({ stable: 1, canary: 2 });
    canary.start(1, 2, 50);
    const router = new ModelRouter({ registry, model: 'iris', policy: canary, monitor, batching });
    disposers.push(() => router.pool.dispose());
    return { router, monitor };
  }

  it.each([false, true])('batching %s: 200 hostile NaN requests are refused as InputShapeError and charged to no version', async (batching) => {
    const { router, monitor } = await canaryRouter(batching);
    const hostile = Array.from({ length: 200 }, (_, i) => router.predict(row([Number.NaN, 1, 1, 1]), { unitId: `attacker-${i}` }));
    const honest = Array.from({ length: 100 }, (_, i) => router.predict(row(SETOSA), { unitId: `user-${i}` }));
    const hostileResults = await Promise.allSettled(hostile);
    const honestResults = await Promise.all(honest);
    expect(hostileResults.every((r) => r.status === 'rejected' && r.reason instanceof InputShapeError)).toBe(true);
    expect(honestResults.every((r) => r.output.label!.data[0] === 0)).toBe(true);
    const versions = [1, 2].map((v) => monitor.stats(v, { window: 'lifetime' }));
    expect(versions.map((s) => s.failures)).toEqual([0, 0]);
    expect(versions[0]!.totalRequests + versions[1]!.totalRequests).toBe(100);
    expect(versions[1]!.totalRequests).toBeGreaterThan(0);
  });
});
