import { AbortedError, InvalidStateError, ValidationError, describeValue } from '../errors.js';
import { checkFunction } from '../options.js';
import type { ModelSignature } from '../registry/signature.js';
import type { PredictInput, PredictOptions, PredictOutput, Predictor } from './types.js';

/** Options of {@link FunctionPredictor}. */
export interface FunctionPredictorOptions {
  /**
   * Inputs and outputs the function takes and gives, in onnxruntime's terms. Optional; needed to
   * wrap the predictor in a {@link BatchingPredictor}, which validates and concatenates by it.
   */
  signature?: ModelSignature;
  /** Called once by {@link FunctionPredictor.dispose}, e.g. to free a native model. */
  dispose?: () => void | Promise<void>;
}

/**
 * Wraps a plain (async) function as a {@link Predictor}: for tests, and for hosts whose models
 * are not ONNX (a rules engine, a remote endpoint, TensorFlow.js…). The function receives the
 * input as given (it is not validated here) and the call's options, so it can honour `signal`.
 *
 * @example
 * ```ts
 * const rules = new FunctionPredictor((input: { amount: number }) => ({ flagged: input.amount > 10_000 }));
 * await rules.predict({ amount: 12_000 }); // { flagged: true }
 * ```
 */
export class FunctionPredictor<In = PredictInput, Out = PredictOutput> implements Predictor<In, Out> {
  readonly signature?: ModelSignature;
  readonly #fn: (input: In, options?: PredictOptions) => Out | Promise<Out>;
  readonly #onDispose: (() => void | Promise<void>) | undefined;
  #disposing: Promise<void> | undefined;

  constructor(fn: (input: In, options?: PredictOptions) => Out | Promise<Out>, options: FunctionPredictorOptions = {}) {
    this.#fn = checkFunction('fn', fn);
    if (options.signature !== undefined) {
      const s = options.signature;
      if (typeof s !== 'object' || s === null || !Array.isArray(s.inputs) || !Array.isArray(s.outputs)) {
        throw new ValidationError(`signature must be { inputs, outputs }, got ${describeValue(s)}`);
      }
      this.signature = s;
    }
    this.#onDispose = options.dispose === undefined ? undefined : checkFunction<() => void | Promise<void>>('dispose', options.dispose);
  }

  /** Calls the function; its own errors reach the caller unchanged. */
  async predict(input: In, options?: PredictOptions): Promise<Out> {
    if (options?.signal?.aborted) throw new AbortedError('prediction aborted before it ran', { cause: options.signal.reason });
    if (this.#disposing) throw new InvalidStateError('predictor is disposed');
    return this.#fn(input, options);
  }

  /** Marks the predictor disposed and runs the `dispose` option once. */
  dispose(): Promise<void> {
    this.#disposing ??= Promise.resolve(this.#onDispose?.());
    return this.#disposing;
  }
}
