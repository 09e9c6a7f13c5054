import fc from 'fast-check';
import { Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchingPredictor, ModelRolloutError, OnnxPredictor, type PredictInput, type Predictor } from '../../src/index.js';
import { fixedBatchRegression, irisClassifier, regression, twoInput } from '../fixtures/onnx-models.js';

const number = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Infinity, -Infinity, 0, -0, 1e39) },
);
const row = fc.array(number, { minLength: 0, maxLength: 6 });
const dims = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 4 });

/** Rows as wide as one of the fixture models takes (2, 3 or 4), so a good share of inputs runs. */
const fittingRows = fc
  .constantFrom(2, 3, 4)
  .chain((width) => fc.array(fc.array(number, { minLength: width, maxLength: width }), { minLength: 1, maxLength: 5 }));

/** Every shape of value a caller might pass, well-formed or not. */
const tensorInput: fc.Arbitrary<unknown> = fc.oneof(
  fittingRows,
  fittingRows.map((rows) => rows[0]),
  row,
  fc.array(row, { minLength: 0, maxLength: 5 }),
  row.map((values) => Float32Array.from(values)),
  fc.tuple(dims, fc.array(number, { maxLength: 30 })).map(([d, values]) => ({ data: Float32Array.from(values), dims: d })),
  fc.tuple(dims, fc.array(number, { maxLength: 30 })).map(([d, values]) => ({ data: values, dims: d })),
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 5 }), fc.constantFrom('float32', 'int32', 'float64') as fc.Arbitrary<'float32' | 'int32' | 'float64'>).map(
    ([rows, width, type]) => {
      const size = rows * width;
      const data = type === 'float32' ? new Float32Array(size).fill(1) : type === 'int32' ? new Int32Array(size).fill(1) : new Float64Array(size).fill(1);
      return new Tensor(type, data, [rows, width]);
    },
  ),
  fc.constantFrom(null, undefined, 42, 'text', true, {}, [[]], [[1, 2], 3]),
);

const predictInput: fc.Arbitrary<unknown> = fc.oneof(
  tensorInput,
  fc.dictionary(fc.constantFrom('a', 'b', 'x', 'input', 'other'), tensorInput, { maxKeys: 3 }),
);

/** Rejects when `promise` has not settled within `ms`: a hang fails the property. */
function withinMs<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`predict did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

describe('predict over random shapes and values', () => {
  const predictors: Array<[string, Predictor]> = [];
  beforeAll(async () => {
    const iris = await OnnxPredictor.create(irisClassifier(), { name: 'iris', version: 1 });
    const reg = await OnnxPredictor.create(regression());
    const two = await OnnxPredictor.create(twoInput());
    const fixed = await OnnxPredictor.create(fixedBatchRegression());
    predictors.push(['iris', iris], ['regression', reg], ['twoInput', two], ['fixed', fixed]);
    predictors.push(['batching iris', new BatchingPredictor(iris, { maxBatchSize: 8, maxDelayMs: 0 })]);
    predictors.push(['batching twoInput', new BatchingPredictor(two, { maxBatchSize: 4 })]);
  });
  afterAll(async () => {
    for (const [name, predictor] of predictors) if (!name.startsWith('batching')) await predictor.dispose();
  });

  it('resolves with well-formed outputs (one per row given) or rejects with a named error; never hangs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 5 }), fc.array(predictInput, { minLength: 1, maxLength: 6 }), async (which, inputs) => {
        const [, predictor] = predictors[which] as [string, Predictor];
        // Several at once, so batching mixes good and bad inputs in one batch.
        const settled = await withinMs(Promise.allSettled(inputs.map((input) => predictor.predict(input as PredictInput))), 5_000);
        for (const result of settled) {
          if (result.status === 'rejected') {
            expect(result.reason).toBeInstanceOf(ModelRolloutError);
            expect((result.reason as ModelRolloutError).code).toMatch(/^[A-Z_]+$/);
            expect((result.reason as Error).message).toMatch(/expected|onnxruntime/);
          } else {
            const input = inputs[settled.indexOf(result)];
            // An array of rows gives that many rows back; a flat row, one.
            const rows = Array.isArray(input) ? (Array.isArray(input[0]) ? input.length : 1) : undefined;
            for (const output of Object.values(result.value)) {
              if (rows !== undefined) expect(output.dims[0]).toBe(rows);
              expect(output.dims.length).toBeGreaterThan(0);
              expect(output.data.length).toBe(output.dims.reduce((a, b) => a * b, 1));
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
