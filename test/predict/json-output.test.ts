import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeploymentMonitor, MemoryStorage, ModelRegistry, ModelRouter, OnnxPredictor, StaticPolicy, toJSONOutput, toPrediction } from '../../src/index.js';
import type { PredictOutput } from '../../src/index.js';
import { sklearnIris } from '../fixtures/onnx-models.js';

describe('toJSONOutput', () => {
  let predictor: OnnxPredictor;
  beforeAll(async () => {
    predictor = await OnnxPredictor.create(sklearnIris('int'));
  });
  afterAll(async () => {
    await predictor.dispose();
  });

  it('turns a real model’s float32 and int64 outputs into plain arrays that survive JSON', async () => {
    const output = await predictor.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]);
    // The raw output is what JSON.stringify mangles: a Float32Array becomes {"0":…,"1":…}.
    const probabilities = Object.values(output).find((o) => o.type === 'float32')!;
    expect(JSON.stringify(probabilities.data)).toMatch(/^\{"0":/);

    const json = toJSONOutput(output);
    const roundTrip = JSON.parse(JSON.stringify(json)) as typeof json;
    expect(roundTrip).toEqual(json);
    for (const [name, tensor] of Object.entries(output)) {
      expect(roundTrip[name]!.dims).toEqual([...tensor.dims]);
      expect(roundTrip[name]!.type).toBe(tensor.type);
      expect(roundTrip[name]!.data).toEqual(Array.from(tensor.data as ArrayLike<number>));
      if (tensor.labels) expect(roundTrip[name]!.labels).toEqual([0, 1, 2]);
    }
    const label = Object.values(roundTrip).find((o) => o.type === 'int64')!;
    expect(label.data).toEqual([0, 2]);
  });

  it('keeps int64 values beyond 2^53 as decimal strings and safe ones as numbers', () => {
    const output: PredictOutput = {
      big: { data: new BigInt64Array([2n ** 60n, -3n]), dims: [2], type: 'int64' },
      small: { data: new BigUint64Array([7n, 9n]), dims: [2], type: 'uint64' },
      words: { data: ['a', 'b'], dims: [1, 2], type: 'string' },
    };
    expect(JSON.parse(JSON.stringify(toJSONOutput(output)))).toEqual({
      big: { data: ['1152921504606846976', '-3'], dims: [2], type: 'int64' },
      small: { data: [7, 9], dims: [2], type: 'uint64' },
      words: { data: ['a', 'b'], dims: [1, 2], type: 'string' },
    });
  });

  it('gives a router answer a JSON body a host can send', async () => {
    const registry = new ModelRegistry({ storage: new MemoryStorage() });
    await registry.register('iris', sklearnIris('int'));
    const router = new ModelRouter({ registry, model: 'iris', policy: new StaticPolicy({ version: 1 }), monitor: new DeploymentMonitor() });
    try {
      const answer = await router.predict([6.7, 3.0, 5.2, 2.3]);
      const body = JSON.parse(JSON.stringify({ ...answer, output: toJSONOutput(answer.output) })) as {
        output: Record<string, { data: unknown[] }>;
        version: number;
      };
      expect(body.version).toBe(1);
      expect(Object.values(body.output).map((o) => Array.isArray(o.data))).toEqual(Object.keys(answer.output).map(() => true));
      expect(toPrediction(answer.output).prediction).toBe(2);
    } finally {
      await router.pool.dispose();
    }
  });
});
