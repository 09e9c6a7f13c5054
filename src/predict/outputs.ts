import type { Tensor } from 'onnxruntime-node';
import { InferenceError, ValidationError } from '../errors.js';
import type { OutputData, OutputTensor, PredictOutput } from './types.js';

/**
 * `int64`/`uint64` data as a `number[]` when every value is a safe integer (labels, counts), so
 * hosts can serialise it as JSON; the bigint array itself otherwise, so nothing is rounded.
 */
function plainData(tensor: Tensor): OutputData {
  const data = tensor.data as OutputData;
  if (!(data instanceof BigInt64Array || data instanceof BigUint64Array)) return data;
  const out = new Array<number>(data.length);
  for (let i = 0; i < data.length; i++) {
    // A bigint of magnitude ≥ 2^53 converts to a number of magnitude ≥ 2^53, never a safe one.
    const v = Number(data[i]);
    if (!Number.isSafeInteger(v)) return data;
    out[i] = v;
  }
  return out;
}

/** One onnxruntime output as a plain `{ data, dims, type }` (with its class labels when the model says them). */
function plainOutput(tensor: Tensor, classes: readonly (number | string)[] | undefined, name: string, check: string | undefined): OutputTensor {
  const data = plainData(tensor);
  const type = tensor.type;
  if (check !== undefined) checkFinite(data, type, name, check);
  return classes === undefined ? { data, dims: tensor.dims, type } : { data, dims: tensor.dims, type, labels: classes };
}

/**
 * Converts onnxruntime results into plain `{ data, dims, type }` outputs, keyed and ordered by
 * `names`. With `check` (the message prefix, `model 'iris' v2: `), a floating-point output holding
 * NaN or ±Infinity throws `InferenceError` instead (see {@link checkFinite}). @internal
 */
export function toOutputs(
  results: Record<string, unknown>,
  names: readonly string[],
  labels?: ReadonlyArray<readonly (number | string)[] | undefined>,
  check?: string,
): PredictOutput {
  const out: PredictOutput = {};
  const count = names.length;
  // A load site per position for the first four outputs: one model's names then always meet the
  // same site, which V8 keeps monomorphic, where one site in a loop sees every name and goes
  // megamorphic (a stub-cache lookup per output per call; measured with callgrind). The stores
  // into the fresh record go megamorphic either way.
  if (count > 0) out[names[0] as string] = plainOutput(results[names[0] as string] as Tensor, labels?.[0], names[0] as string, check);
  if (count > 1) out[names[1] as string] = plainOutput(results[names[1] as string] as Tensor, labels?.[1], names[1] as string, check);
  if (count > 2) out[names[2] as string] = plainOutput(results[names[2] as string] as Tensor, labels?.[2], names[2] as string, check);
  if (count > 3) out[names[3] as string] = plainOutput(results[names[3] as string] as Tensor, labels?.[3], names[3] as string, check);
  for (let i = 4; i < count; i++) out[names[i] as string] = plainOutput(results[names[i] as string] as Tensor, labels?.[i], names[i] as string, check);
  return out;
}

/**
 * Throws `InferenceError` when floating-point output data holds NaN or ±Infinity: such a value is
 * a model failure (overflow, a division by zero inside the graph), never an answer to serve, and
 * as an error it is counted against the version. `where` prefixes the message (`model 'iris' v2: `).
 */
function checkFinite(data: OutputData, type: Tensor.Type, name: string, where: string): void {
  const at = type === 'float32' || type === 'float64' ? firstNonFinite(data as Float32Array | Float64Array) : type === 'float16' ? firstNonFiniteHalf(data as Uint16Array) : -1;
  if (at >= 0) {
    throw new InferenceError(
      `${where}output '${name}' holds ${type === 'float16' ? 'a non-finite value' : String((data as Float32Array)[at])} at index ${at}, expected finite values; non-finite outputs are never served (checkFiniteOutputs: false turns this check off)`,
    );
  }
}

/** Index of the first NaN or ±Infinity in `data[start, end)`, or -1. @internal */
export function firstNonFinite(data: ArrayLike<number>, start = 0, end = data.length): number {
  for (let i = start; i < end; i++) {
    const v = data[i] as number;
    // NaN - NaN and Inf - Inf are NaN; every finite v gives 0.
    if (v - v !== 0) return i;
  }
  return -1;
}

/** float16 arrives as raw bits: all-ones exponent bits mean Infinity or NaN. @internal */
export function firstNonFiniteHalf(bits: ArrayLike<number>, start = 0, end = bits.length): number {
  for (let i = start; i < end; i++) if (((bits[i] as number) & 0x7c00) === 0x7c00) return i;
  return -1;
}

/** A value of one row of a {@link Prediction}. */
export type PredictionValue = number | string | bigint | Array<number | string | bigint>;

/** The classic single-row answer, as the seed's API returned it: `{ prediction: 2 }`. */
export interface Prediction {
  /** The label (classifier) or value(s) (regression) of the row. */
  prediction: PredictionValue;
  /** Class probabilities (or scores) of the row, when the model outputs them. */
  probabilities?: number[];
  /**
   * The class label of each entry of `probabilities`, when the model says them (a scikit-learn
   * classifier exported with a `ZipMap`: `[0, 1, 2]` or `['setosa', 'versicolor', 'virginica']`).
   */
  classes?: Array<number | string>;
}

/** Which outputs {@link toPrediction} reads. */
export interface PredictionOptions {
  /** Output holding the label or value; default: the model's first output. */
  label?: string;
  /**
   * Output holding probabilities; default: the output that carries class labels (a ZipMap's, see
   * {@link OutputTensor.labels}), else the output named `probabilities`, else the second output
   * when it is a floating-point tensor. `false` leaves probabilities out.
   */
  probabilities?: string | false;
  /** Row of the batch to read (default 0). */
  row?: number;
}

function rowOf(tensor: OutputTensor, row: number, name: string): Array<number | string | bigint> {
  const rows = tensor.dims.length === 0 ? 1 : (tensor.dims[0] as number);
  if (!Number.isInteger(row) || row < 0 || row >= rows) {
    throw new ValidationError(`row must be an integer in [0, ${rows - 1}] for output '${name}', got ${row}`);
  }
  const width = rows === 0 ? 0 : tensor.data.length / rows;
  const values: Array<number | string | bigint> = [];
  for (let i = row * width; i < (row + 1) * width; i++) values.push(tensor.data[i] as number | string | bigint);
  return values;
}

/**
 * Reduces a prediction's outputs to one row's `{ prediction, probabilities? }`: for a
 * scikit-learn-style classifier (`label` int64[N] + `probabilities` float32[N,C]) that is
 * `{ prediction: 2, probabilities: [0.01, 0.2, 0.79] }` (with `classes: [0, 1, 2]` when the
 * model exported its probabilities through a `ZipMap`); for a one-output regression,
 * `{ prediction: 1.5 }` (or an array when the row has several values).
 *
 * @example
 * ```ts
 * const output = await predictor.predict([5.9, 3.0, 5.1, 1.8]);
 * res.json(toPrediction(output)); // { prediction: 2, probabilities: [...] }
 * ```
 */
export function toPrediction(output: PredictOutput, options: PredictionOptions = {}): Prediction {
  const names = Object.keys(output);
  const labelName = options.label ?? names[0];
  const label = labelName === undefined ? undefined : output[labelName];
  if (labelName === undefined || label === undefined) {
    throw new ValidationError(`label must name an output (${names.map((n) => `'${n}'`).join(', ') || 'none'}), got ${String(labelName)}`);
  }
  const row = options.row ?? 0;
  const values = rowOf(label, row, labelName);
  if (values.length === 0) throw new ValidationError(`output '${labelName}' has no value in row ${row}`);
  const result: Prediction = { prediction: values.length === 1 ? (values[0] as number) : values };
  const probabilitiesName =
    options.probabilities === false
      ? undefined
      : (options.probabilities ??
        names.find((n) => n !== labelName && output[n]?.labels !== undefined) ??
        (output.probabilities && labelName !== 'probabilities'
          ? 'probabilities'
          : names[1] !== undefined && names[1] !== labelName && isFloat(output[names[1]])
            ? names[1]
            : undefined));
  if (probabilitiesName !== undefined) {
    const probabilities = output[probabilitiesName];
    if (!probabilities) {
      throw new ValidationError(`probabilities must name an output (${names.map((n) => `'${n}'`).join(', ')}), got '${probabilitiesName}'`);
    }
    result.probabilities = rowOf(probabilities, row, probabilitiesName).map(Number);
    if (probabilities.labels !== undefined) result.classes = [...probabilities.labels];
  }
  return result;
}

function isFloat(tensor: OutputTensor | undefined): boolean {
  return tensor !== undefined && (tensor.type === 'float32' || tensor.type === 'float64' || tensor.type === 'float16');
}
