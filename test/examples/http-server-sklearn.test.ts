import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModelServer } from '../../examples/http-server.js';
import { MemoryStorage, ModelRegistry, ModelRouter, StaticPolicy } from '../../src/index.js';
import { fruitClassifier, sklearnIris } from '../fixtures/onnx-models.js';

/** A host serving `model` from a registry holding `versions` (v1, v2, …), v1 by default. */
async function host(model: string, versions: Uint8Array[]) {
  const registry = new ModelRegistry({ storage: new MemoryStorage() });
  for (const bytes of versions) await registry.register(model, bytes);
  const router = new ModelRouter({ registry, model, policy: new StaticPolicy({ version: 1 }) });
  const server = createModelServer({ router });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    async predict(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
      const res = await fetch(`${base}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
    async close(): Promise<void> {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await router.pool.dispose();
    },
  };
}

describe('examples/http-server with scikit-learn exports', () => {
  let iris: Awaited<ReturnType<typeof host>>;
  let irisStrings: Awaited<ReturnType<typeof host>>;
  let fruit: Awaited<ReturnType<typeof host>>;

  beforeAll(async () => {
    // v1 exported with a ZipMap (skl2onnx's default), v2 the same model with zipmap=False.
    iris = await host('iris', [sklearnIris('int'), sklearnIris('int', false)]);
    irisStrings = await host('iris', [sklearnIris('string'), sklearnIris('string', false)]);
    fruit = await host('fruit', [fruitClassifier(), fruitClassifier(false)]);
  });
  afterAll(() => Promise.all([iris, irisStrings, fruit].map((h) => h.close())));

  it.each([
    ['int64 labels', () => iris, [0, 1, 2]],
    ['string labels', () => irisStrings, ['setosa', 'versicolor', 'virginica']],
  ] as const)('POST /predict on a ZipMap classifier (%s) answers { prediction, probabilities, classes }, equal to the zipmap=False export', async (_name, server, classes) => {
    const rows = [
      [5.1, 3.5, 1.4, 0.2],
      [6.0, 2.9, 4.5, 1.5],
      [6.3, 3.3, 6.0, 2.5],
    ];
    for (const [i, features] of rows.entries()) {
      const zipped = await server().predict({ features, model_version: 1 });
      const plain = await server().predict({ features, model_version: 2 });
      expect(zipped.status).toBe(200);
      expect(zipped.json).toMatchObject({ prediction: classes[i], classes, model_version: 1 });
      expect((zipped.json.probabilities as number[]).reduce((a, b) => a + b)).toBeCloseTo(1, 5);
      expect(plain.json.prediction).toEqual(zipped.json.prediction);
      expect(plain.json.probabilities).toEqual(zipped.json.probabilities);
    }
  });

  it('POST /predict with string features answers the string label', async () => {
    const cherry = await fruit.predict({ features: ['red', 'small'] });
    expect(cherry.status).toBe(200);
    expect(cherry.json).toMatchObject({ prediction: 'cherry', classes: ['apple', 'cherry'], model_version: 1 });
    const apple = await fruit.predict({ features: ['green', 'large'], model_version: 2 });
    expect(apple.json).toMatchObject({ prediction: 'apple', model_version: 2 });
  });

  it('answers 400 for mixed or misshapen string features', async () => {
    const mixed = await fruit.predict({ features: ['red', 3] });
    expect(mixed.status).toBe(400);
    expect(mixed.json.error).toMatch(/features must be a non-empty array of numbers or of strings/);
    const short = await fruit.predict({ features: ['red'] });
    expect(short.status).toBe(400);
    expect(short.json).toMatchObject({ code: 'INPUT_SHAPE' });
    expect(short.json.error).toMatch(/expected 'X' string\[N,2\], got \[0\] \(depth 2\) with 1 values, expected 2/);
    const numbers = await fruit.predict({ features: [1, 2] });
    expect(numbers.status).toBe(400);
    expect(numbers.json.error).toMatch(/with strings, got number 1 at row 0, column 0/);
  });
});
