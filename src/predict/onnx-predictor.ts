import { readFile } from 'node:fs/promises';
import { InferenceSession, type Tensor } from 'onnxruntime-node';
import { AbortedError, InferenceError, InvalidStateError, ModelLoadError, ValidationError, describeValue } from '../errors.js';
import { checkNumber } from '../options.js';
import { mappedModel } from '../registry/onnx-file.js';
import { readSignature, type ModelSignature } from '../registry/signature.js';
import { InputPlans } from './inputs.js';
import { toOutputs } from './outputs.js';
import type { PredictCallback, PredictHandler, PredictInput, PredictOptions, PredictOutput, Predictor } from './types.js';
import { unzipMaps } from './zipmap.js';

/** Options of {@link OnnxPredictor.create}. */
export interface OnnxPredictorOptions {
  /** Model name used in error messages (`model 'iris' v3: …`). */
  name?: string;
  /** Model version used in error messages. */
  version?: number | string;
  /**
   * Session options passed through to onnxruntime-node `InferenceSession.create` (graph
   * optimisation level, execution mode, …). The shorthands below override the same fields.
   */
  sessionOptions?: InferenceSession.SessionOptions;
  /** Execution providers, e.g. `['cpu']` or `['cuda', 'cpu']`. */
  executionProviders?: InferenceSession.SessionOptions['executionProviders'];
  /** Threads used inside one operator (onnxruntime default: one per core). */
  intraOpNumThreads?: number;
  /** Threads used across operators in parallel execution mode. */
  interOpNumThreads?: number;
  /**
   * Outputs to fetch (default: every tensor output, in the model's order); others are not
   * computed when avoidable. onnxruntime-node cannot return sequences or maps, so a non-tensor
   * output cannot be named here; a `ZipMap`'s output is served as its probability tensor (see
   * {@link OnnxPredictor}).
   */
  outputs?: readonly string[];
  /**
   * Check every floating-point output for NaN and ±Infinity (default `true`): a run that produced
   * one rejects with `InferenceError` (counted against the version by a router) instead of serving
   * it. Costs one pass over the output values; turn it off for very large outputs checked elsewhere.
   * When the values that caused it came in unscanned (a Tensor, or `{ data, dims }` of the input's
   * own type) and hold NaN or ±Infinity, the run rejects with `InputShapeError` instead (the
   * caller's mistake, never counted against the version): one pass over the inputs, on that
   * failure path only; the success path keeps the feeds in one closure per such call.
   */
  checkFiniteOutputs?: boolean;
}

function modelLabel(name: string | undefined, version: number | string | undefined): string {
  if (name === undefined && version === undefined) return '';
  return `model ${name === undefined ? '(unnamed)' : `'${name}'`}${version === undefined ? '' : ` v${version}`}: `;
}

/**
 * A session for `source`; a file's large initializers are mapped from the file rather than
 * parsed into memory (see {@link mappedModel}), falling back to onnxruntime's own file loading.
 */
async function openSession(source: Uint8Array | string, options: InferenceSession.SessionOptions, where: string): Promise<InferenceSession> {
  try {
    if (typeof source === 'string') {
      const mapped = await mappedModel(source, options, `${where}model`).catch(() => undefined);
      if (mapped) {
        const session = await InferenceSession.create(mapped.bytes, mapped.options).catch(() => undefined);
        if (session) return session;
      }
      return await InferenceSession.create(source, options);
    }
    return await InferenceSession.create(source, options);
  } catch (error) {
    throw new ModelLoadError(`${where}onnxruntime could not load the model: ${messageOf(error)}`, { cause: error });
  }
}

/** What is wrong with the `outputs` option (or with a model that has no tensor output to fetch). */
function outputsProblem(outputs: readonly string[] | undefined, all: readonly string[], tensors: readonly string[], where: string): string | undefined {
  const quoted = (names: readonly string[]) => names.map((n) => `'${n}'`).join(', ');
  const unknown = outputs?.find((o) => !all.includes(o));
  if (unknown !== undefined) return `outputs must name outputs of the model (${quoted(all)}), got '${unknown}'`;
  const nonTensor = outputs?.find((o) => !tensors.includes(o));
  if (nonTensor !== undefined) {
    return `outputs must name tensor outputs (${quoted(tensors)}): onnxruntime-node cannot return the sequence or map '${nonTensor}'`;
  }
  if (tensors.length === 0) return `${where}the model has no tensor output (${quoted(all)}: sequences or maps, which onnxruntime-node cannot return)`;
  return undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A predictor backed by an onnxruntime-node `InferenceSession`. Inputs are validated against the
 * model's signature (`InputShapeError` before anything runs), converted once to tensors, and the
 * outputs come back as plain `{ data, dims, type }` per output name.
 *
 * @example
 * ```ts
 * const predictor = await OnnxPredictor.create(bytes, { name: 'iris', version: 3 });
 * const output = await predictor.predict([5.1, 3.5, 1.4, 0.2]);
 * output.label.data; // [0]
 * toPrediction(output); // { prediction: 0, probabilities: [0.97, 0.03, 0] }
 * await predictor.dispose();
 * ```
 */
export class OnnxPredictor implements Predictor {
  /** Inputs and outputs as onnxruntime reports them. */
  readonly signature: ModelSignature;
  /** The underlying session, for what this class does not cover (profiling, custom fetches). */
  readonly session: InferenceSession;
  /** Label given at creation, used in error messages. */
  readonly name: string | undefined;
  /** Label given at creation, used in error messages. */
  readonly version: number | string | undefined;
  readonly #plans: InputPlans;
  readonly #where: string;
  readonly #outputNames: readonly string[];
  readonly #outputLabels: ReadonlyArray<readonly (number | string)[] | undefined>;
  readonly #fetches: string[] | undefined;
  readonly #checkFinite: boolean;
  #inFlight = 0;
  /** The feeds of the last `#start`, when they passed unscanned values (see there). */
  #keptFeeds: InferenceSession.FeedsType | undefined;
  #disposing: Promise<void> | undefined;
  #idle: (() => void) | undefined;
  /** Settles a run without a signal; shared by every call, so a run costs no closure. */
  readonly #answer = (results: InferenceSession.ReturnType): PredictOutput => this.#settledOutput(results, undefined, undefined);
  readonly #fail = (error: unknown): never => {
    throw this.#runFailed(error);
  };

  private constructor(
    session: InferenceSession,
    options: OnnxPredictorOptions,
    fetches: readonly string[],
    labels: ReadonlyMap<string, readonly (number | string)[]>,
  ) {
    this.session = session;
    this.name = options.name;
    this.version = options.version;
    this.#where = modelLabel(options.name, options.version);
    this.signature = readSignature(session);
    this.#plans = new InputPlans(this.signature, this.#where);
    this.#outputNames = fetches;
    this.#outputLabels = fetches.map((name) => labels.get(name));
    const all = fetches.length === session.outputNames.length && fetches.every((n, i) => session.outputNames[i] === n);
    this.#fetches = all ? undefined : [...fetches];
    this.#checkFinite = options.checkFiniteOutputs ?? true;
  }

  /**
   * Loads a model from its bytes or a file path. Fails with `ModelLoadError` when onnxruntime
   * cannot open it and `ValidationError` for bad options (an unknown output name…).
   */
  static async create(source: Uint8Array | string, options: OnnxPredictorOptions = {}): Promise<OnnxPredictor> {
    if (typeof source !== 'string' && !(source instanceof Uint8Array)) {
      throw new ValidationError(`source must be a Uint8Array or a file path, got ${describeValue(source)}`);
    }
    const { name, version, outputs, checkFiniteOutputs: checkFinite } = options;
    if (checkFinite !== undefined && typeof checkFinite !== 'boolean') {
      throw new ValidationError(`checkFiniteOutputs must be a boolean, got ${describeValue(checkFinite)}`);
    }
    if (name !== undefined && typeof name !== 'string') throw new ValidationError(`name must be a string, got ${describeValue(name)}`);
    if (version !== undefined && typeof version !== 'string' && typeof version !== 'number') {
      throw new ValidationError(`version must be a number or a string, got ${describeValue(version)}`);
    }
    if (outputs !== undefined && (!Array.isArray(outputs) || outputs.length === 0 || outputs.some((o) => typeof o !== 'string'))) {
      throw new ValidationError(`outputs must be a non-empty array of output names, got ${describeValue(outputs)}`);
    }
    const sessionOptions: InferenceSession.SessionOptions = { ...options.sessionOptions };
    if (options.executionProviders !== undefined) sessionOptions.executionProviders = options.executionProviders;
    if (options.intraOpNumThreads !== undefined) {
      sessionOptions.intraOpNumThreads = checkNumber('intraOpNumThreads', options.intraOpNumThreads, { min: 0, integer: true });
    }
    if (options.interOpNumThreads !== undefined) {
      sessionOptions.interOpNumThreads = checkNumber('interOpNumThreads', options.interOpNumThreads, { min: 0, integer: true });
    }
    const where = modelLabel(name, version);
    let session = await openSession(source, sessionOptions, where);
    const labels = new Map<string, readonly (number | string)[]>();
    if (outputs === undefined && session.outputMetadata.some((m) => !m.isTensor)) {
      // Served from a rewritten copy in memory: the source (a registry's stored artifact) is untouched.
      try {
        // A file's large initializers stay mapped from the file in the rewritten copy too.
        const mapped = typeof source === 'string' ? await mappedModel(source, sessionOptions, `${where}model`).catch(() => undefined) : undefined;
        const bytes = mapped?.bytes ?? (typeof source === 'string' ? await readFile(source) : source);
        const unzipped = unzipMaps(bytes, `${where}model`);
        if (unzipped) {
          const served = await openSession(unzipped.bytes, mapped?.options ?? sessionOptions, where);
          await session.release();
          session = served;
          for (const { output, labels: classes } of unzipped.outputs) labels.set(output, classes);
        }
      } catch (error) {
        await session.release().catch(() => undefined);
        throw error;
      }
    }
    const tensors = session.outputMetadata.filter((m) => m.isTensor).map((m) => m.name);
    const problem = outputsProblem(outputs, session.outputNames, tensors, where);
    if (problem !== undefined) {
      await session.release();
      throw new ValidationError(problem);
    }
    return new OnnxPredictor(session, options, outputs ?? tensors, labels);
  }

  /**
   * Validates `input`, runs the model once and returns its outputs. Rejects with
   * `InputShapeError` for an input that does not fit the signature (or an unscanned Tensor
   * holding NaN or ±Infinity, found once the output is non-finite), `AbortedError` when `signal`
   * aborts, and `InferenceError` (naming the model) when onnxruntime itself fails or a finite
   * input gave a non-finite output.
   */
  predict(input: PredictInput, options?: PredictOptions): Promise<PredictOutput> {
    // No async frame: one `then` on the session's promise, with shared handlers unless a signal
    // or kept feeds need the call's own.
    const signal = options?.signal;
    let running: Promise<InferenceSession.ReturnType>;
    try {
      running = this.#start(input, signal);
    } catch (error) {
      return Promise.reject(error);
    }
    const feeds = this.#keptFeeds;
    if (signal === undefined && feeds === undefined) return running.then(this.#answer, this.#fail);
    return running.then((results) => this.#settledOutput(results, signal, feeds), this.#fail);
  }

  /**
   * {@link OnnxPredictor.predict} answering through `callback`, with no promise of its own.
   * @internal
   */
  predictTo(input: PredictInput, options: PredictOptions | undefined, callback: PredictCallback): void {
    const signal = options?.signal;
    let running: Promise<InferenceSession.ReturnType>;
    try {
      running = this.#start(input, signal);
    } catch (error) {
      callback.fail(error);
      return;
    }
    const feeds = this.#keptFeeds;
    running.then(
      (results) => {
        let output: PredictOutput;
        try {
          output = this.#settledOutput(results, signal, feeds);
        } catch (error) {
          callback.fail(error);
          return;
        }
        callback.answer(output);
      },
      (error: unknown) => callback.fail(this.#runFailed(error)),
    );
  }

  /**
   * {@link OnnxPredictor.predict} settled by `handler` on the session's own promise: the promise
   * returned is the one `then` on it, so the caller needs no promise of its own.
   * @internal
   */
  predictThen<R>(input: PredictInput, options: PredictOptions | undefined, handler: PredictHandler<R>): Promise<R> {
    const signal = options?.signal;
    let running: Promise<InferenceSession.ReturnType>;
    try {
      running = this.#start(input, signal);
    } catch (error) {
      return Promise.reject(handler.failed(error));
    }
    const feeds = this.#keptFeeds;
    return running.then(
      (results) => {
        let output: PredictOutput;
        try {
          output = this.#settledOutput(results, signal, feeds);
        } catch (error) {
          throw handler.failed(error);
        }
        return handler.answered(output);
      },
      (error: unknown) => {
        throw handler.failed(this.#runFailed(error));
      },
    );
  }

  /**
   * Checks and converts `input`, and starts its run. Values passed through unscanned (a Tensor…)
   * may hold the caller's NaN, so the feeds are kept for the failure path then, in `#keptFeeds`
   * (read right after this call; values copied from arrays are checked already).
   */
  #start(input: PredictInput, signal: AbortSignal | undefined): Promise<InferenceSession.ReturnType> {
    const feeds = this.#feedsFor(input, signal);
    const running = this.#run(feeds);
    this.#keptFeeds = this.#checkFinite && this.#plans.unscanned ? feeds : undefined;
    return running;
  }

  /** Ends a run that answered (settling it) and returns its outputs; throws as {@link OnnxPredictor.#finish}. */
  #settledOutput(results: InferenceSession.ReturnType, signal: AbortSignal | undefined, feeds: InferenceSession.FeedsType | undefined): PredictOutput {
    this.#settled();
    return this.#finish(results, signal, feeds);
  }

  /** Checks and converts `input` into feeds; throws whatever refuses it (aborted, disposed, bad input). */
  #feedsFor(input: PredictInput, signal: AbortSignal | undefined): InferenceSession.FeedsType {
    if (signal?.aborted) throw new AbortedError(`${this.#where}prediction aborted before it ran`, { cause: signal.reason });
    if (this.#disposing) throw new InvalidStateError(`${this.#where}predictor is disposed`);
    return this.#plans.toFeeds(input);
  }

  /** Starts a run (counted in `inFlight` until it settles). */
  #run(feeds: InferenceSession.FeedsType): Promise<InferenceSession.ReturnType> {
    this.#inFlight++;
    try {
      return this.#fetches ? this.session.run(feeds, this.#fetches) : this.session.run(feeds);
    } catch (error) {
      throw this.#runFailed(error);
    }
  }

  /**
   * A settled run's outputs, unless the call was aborted meanwhile or a floating-point output holds
   * NaN or ±Infinity: then an `InferenceError` (the version's failure), or, when `feeds` passed
   * unscanned values and one of them is NaN or ±Infinity, the `InputShapeError` naming it (the
   * caller's: not counted against the version).
   */
  #finish(results: InferenceSession.ReturnType, signal: AbortSignal | undefined, feeds: InferenceSession.FeedsType | undefined): PredictOutput {
    if (signal?.aborted) throw new AbortedError(`${this.#where}prediction aborted`, { cause: signal.reason });
    if (!this.#checkFinite) return toOutputs(results, this.#outputNames, this.#outputLabels);
    try {
      return toOutputs(results, this.#outputNames, this.#outputLabels, this.#where);
    } catch (error) {
      throw (feeds && this.#plans.nonFinite(feeds as Record<string, Tensor>)) ?? error;
    }
  }

  /** Ends a run that failed (settling it) and names the model in the error. */
  #runFailed(error: unknown): InferenceError {
    this.#settled();
    return new InferenceError(`${this.#where}onnxruntime failed to run the model: ${messageOf(error)}`, { cause: error });
  }

  #settled(): void {
    if (--this.#inFlight === 0 && this.#idle) this.#idle();
  }

  /**
   * Releases the session once the runs already started have finished; later `predict` calls
   * reject with `InvalidStateError`. Safe to call more than once.
   */
  dispose(): Promise<void> {
    this.#disposing ??= (async () => {
      if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
      await this.session.release();
    })();
    return this.#disposing;
  }
}
