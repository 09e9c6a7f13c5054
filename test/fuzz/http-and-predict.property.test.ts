import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parsePredictBody } from '../../examples/http-server.js';
import { ModelRolloutError, OnnxPredictor, ValidationError } from '../../src/index.js';
import { irisClassifier } from '../fixtures/onnx-models.js';
import { anyValue, FUZZ_TIMEOUT_MS, RUNS } from './mutate.js';

vi.setConfig({ testTimeout: FUZZ_TIMEOUT_MS });

ort.env.logLevel = 'fatal';

/** Nested arrays of every depth 0–5 whose leaves are numbers (mostly) or anything. */
const leaf = fc.oneof({ weight: 6, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) }, { weight: 1, arbitrary: anyValue });
const nested: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('node'), { maxLength: 5 })),
})).node;
/** Arrays of depth exactly d with width w at every level (so a good share is well-formed). */
const regular = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.constantFrom(1, 3, 4, 5)).chain(([depth, width]) => {
  let arb: fc.Arbitrary<unknown> = leaf;
  for (let d = 0; d < depth; d++) arb = fc.array(arb, { minLength: d === depth - 1 ? width : 1, maxLength: d === depth - 1 ? width : 3 });
  return arb;
});

describe(`predict inputs: nested arrays of every depth, ${RUNS} runs`, () => {
  let iris: OnnxPredictor;
  beforeAll(async () => {
    iris = await OnnxPredictor.create(irisClassifier(), { name: 'iris', version: 1 });
  });
  afterAll(async () => {
    await iris.dispose();
  });

  it('a well-formed input gives finite probabilities for 3 classes; anything else is a named error', async () => {
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(regular, nested), async (input) => {
        try {
          const out = await iris.predict(input as number[]);
          answered++;
          expect(out.probabilities!.dims[1]).toBe(3);
          for (const v of out.probabilities!.data as Float32Array) expect(Number.isFinite(v)).toBe(true);
        } catch (err) {
          // An assertion above must fail the property, not count as a refusal.
          if (!(err instanceof ModelRolloutError)) throw err;
          expect(err.code).toMatch(/^(INPUT_SHAPE|VALIDATION|INFERENCE)$/);
        }
      }),
      { numRuns: RUNS, seed: 41 },
    );
    expect(answered).toBeGreaterThan(100);
  });
});

describe(`example host request bodies, ${RUNS} runs`, () => {
  const body = fc.oneof(
    fc.record({ features: fc.oneof(fc.array(fc.double(), { maxLength: 6 }), anyValue), model_version: fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), anyValue), unit_id: fc.oneof(fc.string({ maxLength: 5 }), anyValue) }, { requiredKeys: [] }),
    anyValue,
  );

  it('parsePredictBody returns a checked body or throws a ValidationError; JSON text that is not JSON is refused the same way', () => {
    fc.assert(
      fc.property(body, fc.string({ maxLength: 30 }), (value, text) => {
        let parsed: ReturnType<typeof parsePredictBody> | undefined;
        try {
          parsed = parsePredictBody(value);
        } catch (err) {
          expect(err).toBeInstanceOf(ValidationError);
        }
        if (parsed !== undefined) {
          const types = new Set(Array.from(parsed.features as unknown[], (f) => typeof f));
          expect(parsed.features.length > 0 && types.size === 1 && (types.has('number') || types.has('string'))).toBe(true);
          if (parsed.model_version !== undefined) expect(['number', 'string']).toContain(typeof parsed.model_version);
          if (parsed.unit_id !== undefined) expect(parsed.unit_id.length).toBeGreaterThan(0);
        }
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          return;
        }
        try {
          parsePredictBody(json);
        } catch (err) {
          expect(err).toBeInstanceOf(ValidationError);
        }
      }),
      { numRuns: RUNS, seed: 42 },
    );
  });
});
