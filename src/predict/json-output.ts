import type { OutputData, OutputTensor, PredictOutput } from './types.js';

/** One output of a prediction as JSON values only: what {@link toJSONOutput} returns. */
export interface JsonOutputTensor {
  /**
   * The values, flat in row-major order like {@link OutputTensor.data}: numbers (an `int64` value
   * outside ±(2^53 − 1) becomes its decimal string, so no digit is lost) or strings.
   */
  data: Array<number | string>;
  dims: number[];
  /** The element type onnxruntime reported, e.g. `'float32'`. */
  type: OutputTensor['type'];
  /** Class labels of the last dim, when the output carries them (see {@link OutputTensor.labels}). */
  labels?: Array<number | string>;
}

/** A prediction's outputs in JSON values only, keyed by output name like {@link PredictOutput}. */
export type JsonPredictOutput = Record<string, JsonOutputTensor>;

/**
 * The outputs of a prediction as plain arrays, safe for `JSON.stringify` and equal after a round
 * trip: a typed array becomes a `number[]` (so `Float32Array [0.5, 0.25]` is `[0.5, 0.25]`, not
 * `{"0":0.5,"1":0.25}`), a `BigInt64Array` a `number[]` when every value is a safe integer and
 * decimal strings otherwise (JSON has no 64-bit integer), and `dims` a plain array.
 *
 * @example
 * ```ts
 * const { output, version } = await router.predict([5.1, 3.5, 1.4, 0.2]);
 * res.end(JSON.stringify({ output: toJSONOutput(output), version }));
 * // {"output":{"label":{"data":[0],"dims":[1],"type":"int64"},"probabilities":{"data":[0.98,0.02,0],"dims":[1,3],"type":"float32"}},"version":2}
 * ```
 */
export function toJSONOutput(output: PredictOutput): JsonPredictOutput {
  const json: JsonPredictOutput = {};
  for (const [name, tensor] of Object.entries(output)) {
    const plain: JsonOutputTensor = { data: jsonData(tensor.data), dims: Array.from(tensor.dims), type: tensor.type };
    if (tensor.labels !== undefined) plain.labels = Array.from(tensor.labels);
    json[name] = plain;
  }
  return json;
}

function jsonData(data: OutputData): Array<number | string> {
  if (!(data instanceof BigInt64Array || data instanceof BigUint64Array)) return Array.from(data as ArrayLike<number | string>);
  const values = Array.from(data, Number);
  // A bigint of magnitude ≥ 2^53 converts to a number of magnitude ≥ 2^53, never a safe one.
  return values.every(Number.isSafeInteger) ? values : Array.from(data, String);
}
