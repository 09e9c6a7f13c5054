import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DeploymentMonitor,
  InferenceError,
  MemoryStorage,
  ModelRegistry,
  ModelRouter,
  OnnxPredictor,
  StaticPolicy,
  ValidationError,
} from '../../src/index.js';
import { irisClassifier, twoInput } from '../fixtures/onnx-models.js';

ort.env.logLevel = 'fatal';

// Near the float32 limit the logits overflow and the softmax gives NaN probabilities.
const HUGE = [3e38, 3e38, 3e38, 3e38];
const SETOSA = [5.1, 3.5, 1.4, 0.2];

const disposers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(disposers.splice(0).map((d) => d()));
});

async function create(bytes: Uint8Array, options: Parameters<typeof OnnxPredictor.create>[1] = {}): Promise<OnnxPredictor> {
  const predictor = await OnnxPredictor.create(bytes, options);
  disposers.push(() => predictor.dispose());
  return predictor;
}

describe('non-finite outputs', () => {
  it('a NaN probability is an InferenceError naming the model, the output and the index', async () => {
    const predictor = await create(irisClassifier(), { name: 'iris', version: 2 });
    const err = await predictor.predict(HUGE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InferenceError);
    expect((err as Error).message).toMatch(/^model 'iris' v2: output 'probabilities' holds NaN at index 0, expected finite values; non-finite outputs are never served/);
    // The same predictor keeps serving finite answers.
    expect((await predictor.predict(SETOSA)).label!.data).toEqual([0]);
  });

  it('an Infinity, with a signal too', async () => {
    const predictor = await create(twoInput());
    const err = await predictor
      .predict({ a: [[3e38, 1]], b: [[1e10, 1]] }, { signal: new AbortController().signal })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InferenceError);
    expect((err as Error).message).toContain("output 'product' holds Infinity at index 0");
  });

  it('checkFiniteOutputs: false serves them as they are', async () => {
    const predictor = await create(irisClassifier(), { checkFiniteOutputs: false });
    const output = await predictor.predict(HUGE);
    expect(Number.isNaN((output.probabilities!.data as Float32Array)[0])).toBe(true);
    await expect(OnnxPredictor.create(irisClassifier(), { checkFiniteOutputs: 'no' as never })).rejects.toThrow(ValidationError);
  });

  it('through a router, a non-finite answer is a failure counted against the version, not a success', async () => {
    const registry = new ModelRegistry({ storage: new MemoryStorage() });
    await registry.register('iris', irisClassifier());
    const monitor = new DeploymentMonitor();
    const router = new ModelRouter({ registry, model: 'iris', policy: new StaticPolicy({ version: 1 }), monitor });
    disposers.push(() => router.pool.dispose());
    await expect(router.predict(HUGE)).rejects.toBeInstanceOf(InferenceError);
    await router.predict(SETOSA);
    const stats = monitor.stats(1, { window: 'lifetime' });
    expect(stats.totalRequests).toBe(2);
    expect(stats.failures).toBe(1);
  });
});
