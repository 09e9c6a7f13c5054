import type { Tensor } from 'onnxruntime-node';
import type { ModelSignature } from '../registry/signature.js';

/** A typed array onnxruntime accepts as tensor data. */
export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/**
 * Flat tensor data with explicit dimensions, e.g. `{ data: new Float32Array(8), dims: [2, 4] }`.
 * When `data` already has the input's element type it is used as is: no copy, and no scan of its
 * values (only `dims` and the length are checked); otherwise it is converted once, value by value,
 * each value checked (finite, in range) on the way.
 */
export interface TensorData {
  data: NumericArray | readonly number[] | readonly string[] | readonly boolean[];
  dims: readonly number[];
}

/**
 * Arrays of arrays of `T`, any depth: `T[]`, `T[][]`, `T[][][]`, … (`number[1][25][96]` for a
 * `float32[1,25,96]` input).
 */
export type NestedArray<T> = readonly T[] | readonly NestedArray<T>[];

/**
 * One input's value, in any of the accepted forms:
 * - `number[]`: a single row (`[5.1, 3.5, 1.4, 0.2]` → dims `[1, 4]`); for a rank-1 input, the
 *   whole vector;
 * - nested arrays as deep as the input's rank: `number[][]` rows (`[[…], […]]` → dims `[2, 4]`),
 *   `number[1][25][96]` for `[1,25,96]`; every array at one depth must have the same length (a
 *   ragged one is an `InputShapeError` naming its index and depth);
 * - nested arrays one level shallower, when the batch dim is symbolic or 1: one row
 *   (`number[25][96]` → dims `[1, 25, 96]`);
 * - a typed array: a single row, like `number[]`;
 * - {@link TensorData}: flat data with explicit `dims`;
 * - an onnxruntime `Tensor`: passed through unchanged once its type and dims are checked (its
 *   values are not scanned).
 *
 * String inputs take `string[]` / `string[][]` (any depth) the same way; boolean inputs take
 * booleans or 0/1.
 */
export type TensorInput = NestedArray<number> | NestedArray<string> | NestedArray<boolean> | NumericArray | TensorData | Tensor;

/**
 * What {@link Predictor.predict} takes for a model: one {@link TensorInput} for a single-input
 * model, or a record from input name to value (required when the model has several inputs).
 */
export type PredictInput = TensorInput | Readonly<Record<string, TensorInput>>;

/**
 * Data of one output: the tensor's typed array, except that `int64`/`uint64` values become a
 * `number[]` when every value is a safe integer (class labels, counts), and stay a
 * `BigInt64Array`/`BigUint64Array` otherwise.
 */
export type OutputData = NumericArray | number[] | string[];

/** One output of a prediction as plain values: `{ data, dims, type }`. */
export interface OutputTensor {
  data: OutputData;
  dims: readonly number[];
  /** The element type onnxruntime reports, e.g. `'float32'`, `'int64'`, `'string'`. */
  type: Tensor.Type;
  /**
   * Class labels of the last dim, in column order, when the model says them: the
   * `classlabels_int64s` / `classlabels_strings` of a scikit-learn `ZipMap` whose probability
   * tensor this output is. {@link toPrediction} returns them as `classes`.
   */
  labels?: readonly (number | string)[];
}

/** The outputs of one prediction, keyed by output name, in the model's output order. */
export type PredictOutput = Record<string, OutputTensor>;

/** Per-call options of {@link Predictor.predict}. */
export interface PredictOptions {
  /** Cancels the call: it rejects with `AbortedError` and its result, if any, is dropped. */
  signal?: AbortSignal;
}

/**
 * Anything that turns an input into an output. {@link OnnxPredictor} is the real one;
 * {@link FunctionPredictor} wraps a plain function; {@link BatchingPredictor} wraps another
 * predictor. Hosts with other runtimes implement this interface directly.
 */
export interface Predictor<In = PredictInput, Out = PredictOutput> {
  /** Inputs and outputs of the model, when known; validation and batching read it. */
  readonly signature?: ModelSignature | undefined;
  /** Runs one prediction. Rejects with a {@link ModelRolloutError} subclass on failure. */
  predict(input: In, options?: PredictOptions): Promise<Out>;
  /** Releases the model's resources; the predictor must not be used afterwards. */
  dispose(): Promise<void>;
}

/**
 * The callback form of a prediction's outcome, for a caller that settles its own promise (the
 * router): exactly one of `answer` and `fail` is called, once, possibly before `predictTo` returns.
 * It lets a request go from the router to a batch and back with one promise, the caller's own.
 * @internal
 */
export interface PredictCallback {
  /**
   * `run` is the same object for every caller whose output came from one run (a batch), so a
   * caller that times requests can read its clock once a run instead of once a request.
   */
  answer(output: PredictOutput, run?: object): void;
  fail(error: unknown): void;
}

/**
 * A predictor that also answers through a {@link PredictCallback}. By implementing it a predictor
 * promises that its `dispose()` resolves only after every call it accepted has been settled, and
 * that a call after `dispose()` began fails with `InvalidStateError`: so a pool need not count its
 * calls to know when it may be disposed.
 * @internal
 */
export interface CallbackPredictor extends Predictor {
  predictTo(input: PredictInput, options: PredictOptions | undefined, callback: PredictCallback): void;
}

/** Whether `predictor` takes callbacks (and so settles every accepted call before its dispose resolves). @internal */
export function takesCallbacks(predictor: Predictor): predictor is CallbackPredictor {
  return typeof (predictor as Partial<CallbackPredictor>).predictTo === 'function';
}

/**
 * A caller's handling of a prediction settled on the predictor's own promise: `answered` gives the
 * value the returned promise resolves with, `failed` the error it rejects with. The caller's
 * promise is then the predictor's `then`, with none of its own in between.
 * @internal
 */
export interface PredictHandler<R> {
  answered(output: PredictOutput): R;
  failed(error: unknown): unknown;
}

/**
 * A callback predictor that can also settle a call on a promise of its own (`OnnxPredictor`: one
 * `then` on the session's). `predictThen` returns `undefined`, having started nothing, when the call
 * cannot go that way (a pool's handle over a `BatchingPredictor`): use `predictTo` then.
 * @internal
 */
export interface ThenPredictor extends CallbackPredictor {
  predictThen<R>(input: PredictInput, options: PredictOptions | undefined, handler: PredictHandler<R>): Promise<R> | undefined;
}

/** Whether `predictor` may settle a call on its own promise ({@link ThenPredictor}). @internal */
export function settlesOnItsPromise(predictor: Predictor): predictor is ThenPredictor {
  return typeof (predictor as Partial<ThenPredictor>).predictThen === 'function';
}
