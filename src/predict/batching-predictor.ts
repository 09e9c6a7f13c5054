import { performance } from 'node:perf_hooks';
import { Tensor } from 'onnxruntime-node';
import {
  AbortedError,
  CapacityError,
  InputShapeError,
  InvalidStateError,
  TimeoutError,
  ValidationError,
  describeValue,
} from '../errors.js';
import { checkFunction, checkNumber } from '../options.js';
import type { ModelSignature } from '../registry/signature.js';
import { InputPlans, isSingleForm, type InputPlan, type TargetArray } from './inputs.js';
import { takesCallbacks, type OutputData, type OutputTensor, type PredictCallback, type PredictInput, type PredictOptions, type PredictOutput, type Predictor, type TensorInput } from './types.js';

/** Options of {@link BatchingPredictor}; the names follow Triton's dynamic batcher. */
export interface BatchingOptions {
  /**
   * Most rows one run takes (default 128). A batch that reaches it is closed and the next one
   * opened; a single request with more rows runs on its own.
   */
  maxBatchSize?: number;
  /**
   * Leave unset (the default) for adaptive batching: a request to an idle model runs at once,
   * requests that arrive while a run is in flight queue, and when that run ends everything
   * queued runs as one batch (up to `maxBatchSize` rows), so batches grow with the load and a
   * lightly loaded model pays no wait at all.
   *
   * Set it to batch by a time window instead (Triton's `max_queue_delay`): a batch runs when it
   * holds `maxBatchSize` rows or when its oldest request has waited this long, in ms, with no
   * limit on runs in flight; `0` runs whatever arrived in the same event-loop turn. Every
   * request, even a lone one, then waits up to this long.
   */
  maxDelayMs?: number;
  /** Most requests accepted and not yet answered (default 1024); beyond it `predict` rejects at once with `CapacityError`. */
  maxQueue?: number;
  /**
   * Longest a request may wait for its answer, in ms, counted from `predict` (default: no limit);
   * then it rejects with `TimeoutError` and its batch-mates are unaffected. Must exceed `maxDelayMs`
   * when that is set.
   */
  timeoutMs?: number;
  /** Time source for `timeoutMs`, in ms (default `performance.now`). */
  clock?: () => number;
  /** Timer functions for `maxDelayMs` and `timeoutMs` (default: the global ones); a `FakeClock` fits. */
  timers?: BatchingTimers;
}

/** The timer functions {@link BatchingPredictor} uses, so tests can drive them. */
export interface BatchingTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: never): void;
}

/** {@link BatchingOptions} checked, defaults filled in. */
export interface ResolvedBatchingOptions {
  readonly maxBatchSize: number;
  /** `undefined`: batching adapts to load. */
  readonly maxDelayMs: number | undefined;
  readonly maxQueue: number;
  readonly timeoutMs: number | undefined;
}

/**
 * Checks batching options up front (a `ValidationError` naming the option), so a router can refuse
 * bad ones at construction rather than at the first load.
 * @internal
 */
export function resolveBatchingOptions(options: BatchingOptions): ResolvedBatchingOptions {
  if (typeof options !== 'object' || options === null) throw new ValidationError(`batching options must be an object, got ${describeValue(options)}`);
  const maxBatchSize = checkNumber('maxBatchSize', options.maxBatchSize ?? 128, { min: 1, integer: true });
  const maxDelayMs = options.maxDelayMs === undefined ? undefined : checkNumber('maxDelayMs', options.maxDelayMs, { min: 0 });
  const maxQueue = checkNumber('maxQueue', options.maxQueue ?? 1024, { min: 1, integer: true });
  const timeoutMs =
    options.timeoutMs === undefined ? undefined : checkNumber('timeoutMs', options.timeoutMs, { min: maxDelayMs ?? 0, exclusiveMin: true });
  return { maxBatchSize, maxDelayMs, maxQueue, timeoutMs };
}

/** A caller of the promise API: its promise's settling functions, as a callback. */
class Settle implements PredictCallback {
  constructor(
    readonly answer: (output: PredictOutput) => void,
    readonly fail: (error: unknown) => void,
  ) {}
}

/** What answering a caller early needs: its signal's listener, its deadline. Only for callers with either. */
class Watch {
  onAbort: (() => void) | undefined = undefined;
  constructor(
    readonly signal: AbortSignal | undefined,
    readonly deadline: number,
  ) {}
}

/**
 * Requests joined into one run; `buffers` hold each input's rows back to back, room for `capacity`
 * rows. A caller is its index: its callback, the row its rows start at, and, only when some caller
 * has a signal or a deadline, its watch. A caller answered early (timed out, aborted) has no
 * callback any more; its rows stay, since its mates' start rows depend on them.
 */
class Batch {
  rows = 0;
  readonly callbacks: Array<PredictCallback | undefined> = [];
  readonly starts: number[] = [];
  watches: Array<Watch | undefined> | undefined = undefined;
  /** Callers not yet answered. */
  waiting = 0;
  timer: unknown = undefined;
  constructor(
    public buffers: TargetArray[],
    public capacity: number,
  ) {}

  /** Rows of caller `k`. */
  rowsOf(k: number): number {
    return (k + 1 < this.starts.length ? (this.starts[k + 1] as number) : this.rows) - (this.starts[k] as number);
  }
}

/**
 * Rows `[start, end)` of one output's data, the caller's own: a view of a typed array; a copy of a
 * plain array (int64 labels as numbers, strings), built as a literal for one row, which V8 allocates
 * inline where `slice` costs a builtin call (≈ 390 against ≈ 115 instructions with its GC share).
 */
function sliceRows(data: OutputData, start: number, end: number): OutputData {
  if (ArrayBuffer.isView(data)) return data.subarray(start, end);
  return end - start === 1 ? ([data[start]] as OutputData) : data.slice(start, end);
}

/**
 * `{ [names[i]]: parts[i] }` for every output. The first four stores have a site each: one model's
 * names then always meet the same site, which V8 keeps monomorphic, where a single store in a loop
 * sees every name and goes megamorphic (a stub-cache lookup on every store of every caller).
 */
function outputsOf(names: readonly string[], parts: readonly OutputTensor[]): PredictOutput {
  const output: PredictOutput = {};
  const count = names.length;
  if (count > 0) output[names[0] as string] = parts[0] as OutputTensor;
  if (count > 1) output[names[1] as string] = parts[1] as OutputTensor;
  if (count > 2) output[names[2] as string] = parts[2] as OutputTensor;
  if (count > 3) output[names[3] as string] = parts[3] as OutputTensor;
  for (let i = 4; i < count; i++) output[names[i] as string] = parts[i] as OutputTensor;
  return output;
}

/** A copy of `buffer`'s first `used` elements in a new buffer of `length` elements. */
function grown(plan: InputPlan, buffer: TargetArray, used: number, length: number): TargetArray {
  const next = plan.allocate(length);
  if (ArrayBuffer.isView(buffer)) (next as Float32Array).set((buffer as Float32Array).subarray(0, used));
  else for (let i = 0; i < used; i++) (next as string[])[i] = (buffer as string[])[i] as string;
  return next;
}

/**
 * Dynamic batching, adaptive by default: a request to an idle model runs at once, unchanged
 * (no copy, no wait); requests arriving while a run is in flight are validated one by one and
 * their rows copied into one buffer per input; when the run ends, everything queued runs as a
 * single call of the inner predictor (concatenated along dim 0, up to `maxBatchSize` rows a run),
 * and each caller then gets its own rows of every output, in order. One run is in flight at a
 * time, so batches grow with the load: one row each when traffic is light, hundreds under a burst.
 * With `maxDelayMs` set it batches by a time window instead (see {@link BatchingOptions}).
 *
 * A bad input fails only its own caller (it is validated before it joins a batch; a request run
 * alone is validated by the inner predictor); a full queue rejects at once with `CapacityError`;
 * a timed-out (`TimeoutError`) or aborted (`AbortedError`) request is answered at once and its
 * rows' results dropped, without touching its batch-mates (a request run alone hands its signal
 * to the inner predictor). Models whose inputs do not share a dynamic first dimension, and
 * outputs with a fixed first dimension, are refused at construction with the reason.
 *
 * @example
 * ```ts
 * const predictor = new BatchingPredictor(await OnnxPredictor.create(bytes), { maxBatchSize: 64 });
 * // 256 concurrent requests: the first runs at once, the others as batches while it runs
 * await Promise.all(rows.map((row) => predictor.predict(row)));
 * ```
 */
export class BatchingPredictor implements Predictor {
  /** The inner predictor's signature, by which inputs are validated and batched. */
  readonly signature: ModelSignature;
  /** Options in force, defaults filled in; `maxDelayMs` is `undefined` when batching adapts to load. */
  readonly options: ResolvedBatchingOptions;
  private readonly inner: Predictor;
  private readonly plans: readonly InputPlan[];
  private readonly inputs: InputPlans;
  private readonly clock: () => number;
  private readonly where: string;
  private readonly adaptive: boolean;
  /** The batch still taking requests. */
  private open: Batch | undefined;
  /** Adaptive mode: full batches waiting for the run in flight, oldest first (`open` comes after them). */
  private readonly ready: Batch[] = [];
  private readonly timers: BatchingTimers;
  private flushTimer: unknown;
  private pending = 0;
  private running = 0;
  /** Rows of the last batch run: the likely size of the next, so its buffers rarely grow. */
  private lastRows = 1;
  /**
   * Adaptive mode: a batch of several callers was just answered and this turn of the event loop is
   * resuming them; whatever they send next joins one batch, run when the turn ends, rather than
   * the first of them running alone and the rest after it.
   */
  private answering = false;
  private readonly answered = (): void => {
    this.answering = false;
    this.runNext();
    this.checkIdle();
  };
  private disposing: Promise<void> | undefined;
  private idle: (() => void) | undefined;
  private readonly flush = () => {
    this.flushTimer = undefined;
    if (this.open) this.dispatch(this.open);
  };
  /** Settle a request run alone through the promise API; shared, so that path costs no closure. */
  private readonly aloneAnswered = (output: PredictOutput): PredictOutput => {
    this.pending--;
    this.runEnded(1);
    return output;
  };
  private readonly aloneFailed = (error: unknown): never => {
    this.pending--;
    this.runEnded(1);
    throw error;
  };
  /**
   * The callback of the request run alone through `predictTo`. Adaptive mode runs a request alone
   * only when nothing else runs, so one slot serves them all and that path costs no allocation.
   */
  private aloneCallback: PredictCallback | undefined;
  private readonly alone: PredictCallback = {
    answer: (output) => this.takeAlone().answer(output),
    fail: (error) => this.takeAlone().fail(error),
  };

  constructor(inner: Predictor, options: BatchingOptions = {}) {
    if (typeof inner !== 'object' || inner === null || typeof inner.predict !== 'function') {
      throw new ValidationError(`inner must be a Predictor, got ${describeValue(inner)}`);
    }
    this.options = resolveBatchingOptions(options);
    this.adaptive = this.options.maxDelayMs === undefined;
    this.clock = options.clock === undefined ? performance.now.bind(performance) : checkFunction<() => number>('clock', options.clock);
    const timers = options.timers ?? globalThis;
    if (typeof timers.setTimeout !== 'function' || typeof timers.clearTimeout !== 'function') {
      throw new ValidationError(`timers must have setTimeout and clearTimeout, got ${describeValue(timers)}`);
    }
    this.timers = timers;
    const labels = inner as { name?: unknown; version?: unknown };
    this.where = typeof labels.name === 'string' ? `model '${labels.name}'${labels.version === undefined ? '' : ` v${String(labels.version)}`}: ` : '';
    const signature = inner.signature;
    if (!signature) {
      throw new ValidationError('inner must have a signature: batching validates and concatenates inputs by it');
    }
    this.signature = signature;
    this.inputs = new InputPlans(signature, this.where);
    this.plans = this.inputs.plans;
    if (this.plans.length === 0) throw new ValidationError('inner must take at least one input to be batched');
    for (const plan of this.plans) {
      if (!plan.batchDynamic || this.inputs.batchSymbol === undefined) {
        throw new ValidationError(
          `inner cannot be batched: every input needs the same dynamic first dimension, but input ${plan.label} ` +
            (typeof plan.shape[0] === 'number' ? `has a fixed batch size of ${plan.shape[0]}` : 'does not share it'),
        );
      }
      if (plan.rowSize < 0 || !plan.ctor) {
        throw new ValidationError(`inner cannot be batched: input ${plan.label} needs fixed dims after the first and a numeric, bool or string type`);
      }
    }
    for (const output of signature.outputs) {
      if (typeof output.shape[0] === 'number') {
        throw new ValidationError(
          `inner cannot be batched: output '${output.name}' ${output.type}[${output.shape.join(',')}] has a fixed first dimension`,
        );
      }
    }
    this.inner = inner;
  }

  /** Requests accepted and not yet answered. */
  get size(): number {
    return this.pending;
  }

  /**
   * Runs one request (one or more rows) at once if the model is idle, or queues it for the next
   * batch. Rejects at once with `InputShapeError` (bad input), `CapacityError` (queue full) or
   * `InvalidStateError` (disposed).
   */
  predict(input: PredictInput, options?: PredictOptions): Promise<PredictOutput> {
    const signal = options?.signal;
    const refused = this.refusal(signal);
    if (refused !== undefined) return Promise.reject(refused);
    if (this.runsAlone()) {
      this.pending++;
      this.running++;
      let running: Promise<PredictOutput>;
      try {
        running = this.inner.predict(input, options);
      } catch (error) {
        running = Promise.reject(error);
      }
      return running.then(this.aloneAnswered, this.aloneFailed);
    }
    return new Promise<PredictOutput>((resolve, reject) => this.enqueue(input, signal, new Settle(resolve, reject)));
  }

  /**
   * {@link BatchingPredictor.predict} answering through `callback`, with no promise of its own:
   * a request that joins a batch costs its place in the batch and nothing else.
   * @internal
   */
  predictTo(input: PredictInput, options: PredictOptions | undefined, callback: PredictCallback): void {
    const signal = options?.signal;
    const refused = this.refusal(signal);
    if (refused !== undefined) return callback.fail(refused);
    if (!this.runsAlone()) return this.enqueue(input, signal, callback);
    this.pending++;
    this.running++;
    this.aloneCallback = callback;
    const inner = this.inner;
    if (takesCallbacks(inner)) return inner.predictTo(input, options, this.alone);
    let running: Promise<PredictOutput>;
    try {
      running = inner.predict(input, options);
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(this.alone.answer, this.alone.fail);
  }

  /** Why a request is refused before it is looked at (aborted, disposed, queue full), if it is. */
  private refusal(signal: AbortSignal | undefined): Error | undefined {
    if (signal?.aborted) return new AbortedError(`${this.where}prediction aborted before it was queued`, { cause: signal.reason });
    if (this.disposing) return new InvalidStateError(`${this.where}predictor is disposed`);
    if (this.pending >= this.options.maxQueue) {
      return new CapacityError(`${this.where}batching queue is full: maxQueue is ${this.options.maxQueue} requests waiting or running`);
    }
    return undefined;
  }

  /** Adaptive mode, model idle: the request goes to the inner predictor as it is (no copy, no wait). */
  private runsAlone(): boolean {
    return this.adaptive && this.running === 0 && !this.answering && this.options.timeoutMs === undefined;
  }

  private takeAlone(): PredictCallback {
    const callback = this.aloneCallback as PredictCallback;
    this.aloneCallback = undefined;
    this.pending--;
    this.runEnded(1);
    return callback;
  }

  /** Validates a request, copies its rows into the open batch and gives it a place there. */
  private enqueue(input: PredictInput, signal: AbortSignal | undefined, callback: PredictCallback): void {
    // A single-input model's value comes as is (`one`); records are split per input (`list`).
    let one: TensorInput | undefined;
    let list: TensorInput[] | undefined;
    let rows: number;
    try {
      const single = this.inputs.single;
      if (single && isSingleForm(input, single.name)) {
        one = input as TensorInput;
        rows = single.rowsOfAny(one);
      } else {
        list = this.inputs.split(input);
        rows = this.rowsOfAll(list);
      }
    } catch (error) {
      return callback.fail(error);
    }
    const maxBatchSize = this.options.maxBatchSize;
    let batch = this.open;
    if (batch && batch.rows + rows > maxBatchSize) {
      this.close(batch);
      batch = undefined;
    }
    // A request larger than a batch gets a batch of its own, so timeouts and aborts work alike.
    batch ??= this.openBatch(rows);
    if (batch.rows + rows > batch.capacity) this.grow(batch, batch.rows + rows);
    // Copied straight into the batch's buffers, checked on the way.
    try {
      if (list) {
        for (let i = 0; i < this.plans.length; i++) {
          const plan = this.plans[i] as InputPlan;
          plan.writeAny(list[i] as TensorInput, batch.buffers[i] as TargetArray, batch.rows * plan.rowSize);
        }
      } else {
        const plan = this.plans[0] as InputPlan;
        plan.writeAny(one as TensorInput, batch.buffers[0] as TargetArray, batch.rows * plan.rowSize);
      }
    } catch (error) {
      return callback.fail(error);
    }
    const k = batch.callbacks.length;
    batch.callbacks.push(callback);
    batch.starts.push(batch.rows);
    batch.waiting++;
    this.pending++;
    batch.rows += rows;
    const timeoutMs = this.options.timeoutMs;
    if (signal !== undefined || timeoutMs !== undefined || batch.watches !== undefined) {
      const watch = signal === undefined && timeoutMs === undefined ? undefined : new Watch(signal, timeoutMs === undefined ? 0 : this.clock() + timeoutMs);
      batch.watches ??= new Array<Watch | undefined>(k);
      batch.watches.push(watch);
      if (signal !== undefined) this.watchAbort(batch, k, watch as Watch, signal);
      // The deadline counts while the request waits for a run too, not only while it runs.
      if (timeoutMs !== undefined && batch.timer === undefined) this.armTimeout(batch);
    }
    if (batch.rows >= maxBatchSize) this.close(batch);
    else if (!this.adaptive && this.flushTimer === undefined) {
      // Not unref()'d: it only exists while a caller awaits this batch, and must fire for it.
      this.flushTimer =
        this.options.maxDelayMs === 0 ? setImmediate(this.flush) : this.timers.setTimeout(this.flush, this.options.maxDelayMs as number);
    }
    if (this.adaptive && this.running === 0 && !this.answering) this.runNext();
  }

  private rowsOfAll(values: TensorInput[]): number {
    let rows = -1;
    for (let i = 0; i < this.plans.length; i++) {
      const plan = this.plans[i] as InputPlan;
      rows = this.inputs.sameRows(plan, plan.rowsOfAny(values[i] as TensorInput), rows);
    }
    return rows;
  }

  private openBatch(rows: number): Batch {
    const capacity = Math.max(rows, Math.min(this.options.maxBatchSize, this.lastRows));
    const batch = new Batch(
      this.plans.map((p) => p.allocate(capacity * p.rowSize)),
      capacity,
    );
    this.open = batch;
    return batch;
  }

  /** Makes room for `rows` rows in `batch`, at least doubling it, never beyond `maxBatchSize` unless one request needs more. */
  private grow(batch: Batch, rows: number): void {
    const capacity = Math.max(rows, Math.min(this.options.maxBatchSize, batch.capacity * 2));
    for (let i = 0; i < this.plans.length; i++) {
      const plan = this.plans[i] as InputPlan;
      batch.buffers[i] = grown(plan, batch.buffers[i] as TargetArray, batch.rows * plan.rowSize, capacity * plan.rowSize);
    }
    batch.capacity = capacity;
  }

  /** A batch that takes no more requests: it runs now (time window), or when its turn comes (adaptive). */
  private close(batch: Batch): void {
    if (!this.adaptive) {
      this.dispatch(batch);
      return;
    }
    if (this.open === batch) this.open = undefined;
    this.ready.push(batch);
  }

  /** Adaptive mode, no run in flight: runs the oldest waiting batch that still has a caller. */
  private runNext(): void {
    while (this.running === 0) {
      const batch = this.ready.length > 0 ? (this.ready.shift() as Batch) : this.open;
      if (batch === undefined) return;
      this.dispatch(batch);
    }
  }

  private watchAbort(batch: Batch, k: number, watch: Watch, signal: AbortSignal): void {
    watch.onAbort = () => {
      if (batch.callbacks[k] === undefined) return;
      const callback = batch.callbacks[k] as PredictCallback;
      this.settle(batch, k);
      // The last request of the open batch can simply be taken back; otherwise its rows stay
      // in the batch (its mates' start rows depend on them) and their results are dropped.
      if (batch === this.open && k === batch.callbacks.length - 1) {
        batch.rows = batch.starts[k] as number;
        batch.callbacks.pop();
        batch.starts.pop();
        batch.watches?.pop();
      }
      callback.fail(new AbortedError(`${this.where}prediction aborted`, { cause: signal.reason }));
      if (batch === this.open && batch.waiting === 0) this.cancelFlush();
      this.checkIdle();
    };
    signal.addEventListener('abort', watch.onAbort, { once: true });
  }

  /** Caller `k` of `batch` is being answered: it leaves the batch's and the queue's counts. */
  private settle(batch: Batch, k: number): void {
    batch.callbacks[k] = undefined;
    batch.waiting--;
    this.pending--;
    const watch = batch.watches?.[k];
    if (watch?.onAbort) watch.signal?.removeEventListener('abort', watch.onAbort);
  }

  private cancelFlush(): void {
    if (this.flushTimer === undefined) return;
    if (this.options.maxDelayMs === 0) clearImmediate(this.flushTimer as ReturnType<typeof setImmediate>);
    else this.timers.clearTimeout(this.flushTimer as never);
    this.flushTimer = undefined;
  }

  private dispatch(batch: Batch): void {
    if (this.open === batch) {
      this.open = undefined;
      this.cancelFlush();
    }
    if (batch.waiting === 0) {
      this.clearTimeout(batch);
      return;
    }
    const rows = batch.rows;
    this.lastRows = rows;
    let input: PredictInput;
    if (this.plans.length === 1) {
      input = this.tensorOf(this.plans[0] as InputPlan, batch.buffers[0] as TargetArray, rows);
    } else {
      const record: Record<string, Tensor> = {};
      for (let i = 0; i < this.plans.length; i++) {
        const plan = this.plans[i] as InputPlan;
        record[plan.name] = this.tensorOf(plan, batch.buffers[i] as TargetArray, rows);
      }
      input = record;
    }
    this.running++;
    const inner = this.inner;
    const answer = (output: PredictOutput) => this.complete(batch, output);
    const fail = (error: unknown) => this.fail(batch, error);
    if (takesCallbacks(inner)) {
      inner.predictTo(input, undefined, { answer, fail });
      return;
    }
    let running: Promise<PredictOutput>;
    try {
      running = inner.predict(input);
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(answer, fail);
  }

  private tensorOf(plan: InputPlan, buffer: TargetArray, rows: number): Tensor {
    const length = rows * plan.rowSize;
    const data = length === buffer.length ? buffer : ArrayBuffer.isView(buffer) ? buffer.subarray(0, length) : buffer.slice(0, length);
    return new Tensor(plan.type as 'float32', data as Float32Array, [rows, ...(plan.rowDims as number[])]);
  }

  private armTimeout(batch: Batch): void {
    const watches = batch.watches as Array<Watch | undefined>;
    let next: Watch | undefined;
    for (let k = 0; k < watches.length && next === undefined; k++) if (batch.callbacks[k] !== undefined) next = watches[k];
    if (next === undefined) {
      batch.timer = undefined;
      return;
    }
    batch.timer = this.timers.setTimeout(() => {
      const now = this.clock();
      for (let k = 0; k < watches.length; k++) {
        const callback = batch.callbacks[k];
        if (callback === undefined || (watches[k] as Watch).deadline > now) continue;
        this.settle(batch, k);
        callback.fail(new TimeoutError(`${this.where}prediction timed out after ${this.options.timeoutMs} ms (timeoutMs)`));
      }
      this.armTimeout(batch);
      this.checkIdle();
    }, Math.max(0, next.deadline - this.clock()));
  }

  private clearTimeout(batch: Batch): void {
    if (batch.timer === undefined) return;
    this.timers.clearTimeout(batch.timer as never);
    batch.timer = undefined;
  }

  /**
   * A run ended (batch or alone): start the next one, or wake a waiting `dispose`. After a batch of
   * several callers, the next run waits for the end of this event-loop turn (`setImmediate`, no
   * timer), so that what the callers it answered send next joins the requests queued during the
   * run, in one batch: run at once, the queued requests would go alone and the answered callers'
   * next ones would wait for a run of their own (with a canary splitting 256 callers, batches of
   * about 64 rows instead of 128).
   */
  private runEnded(callers: number): void {
    this.running--;
    if (this.adaptive) {
      if (callers > 1 && this.running === 0) {
        if (!this.answering) {
          this.answering = true;
          setImmediate(this.answered);
        }
        return;
      }
      this.runNext();
    }
    this.checkIdle();
  }

  /** Wakes a waiting `dispose` once nothing is queued or running. */
  private checkIdle(): void {
    if (this.idle !== undefined && this.pending === 0 && this.running === 0 && !this.answering) this.idle();
  }

  private complete(batch: Batch, output: PredictOutput): void {
    this.clearTimeout(batch);
    const names = Object.keys(output);
    for (const name of names) {
      const dims = (output[name] as OutputTensor).dims;
      if (dims[0] !== batch.rows) {
        this.fail(
          batch,
          new ValidationError(
            `${this.where}output '${name}' has dims [${dims.join(',')}] for a batch of ${batch.rows} rows: the model does not keep the batch dimension, so it cannot be batched`,
          ),
        );
        return;
      }
    }
    const callbacks = batch.callbacks;
    const callers = callbacks.length;
    if (callers === 1) {
      const only = callbacks[0];
      if (only !== undefined) {
        this.settle(batch, 0);
        only.answer(output, batch);
      }
      this.runEnded(1);
      return;
    }
    // Per output, once a batch: elements per row, and the dims of a one-row answer, shared by
    // every one-row caller. Per caller: its rows of each output as views (subarray), no copy.
    const count = names.length;
    const tensors: OutputTensor[] = [];
    const widths: number[] = [];
    const oneRowDims: Array<readonly number[]> = [];
    for (let i = 0; i < count; i++) {
      const tensor = output[names[i] as string] as OutputTensor;
      tensors.push(tensor);
      widths.push(tensor.data.length / batch.rows);
      oneRowDims.push(Object.freeze([1, ...tensor.dims.slice(1)]));
    }
    const starts = batch.starts;
    const parts: OutputTensor[] = [];
    for (let k = 0; k < callers; k++) {
      const callback = callbacks[k];
      if (callback === undefined) continue;
      const start = starts[k] as number;
      const rows = batch.rowsOf(k);
      for (let i = 0; i < count; i++) {
        const tensor = tensors[i] as OutputTensor;
        const width = widths[i] as number;
        const part: OutputTensor = {
          data: sliceRows(tensor.data, start * width, (start + rows) * width),
          dims: rows === 1 ? (oneRowDims[i] as readonly number[]) : [rows, ...tensor.dims.slice(1)],
          type: tensor.type,
        };
        if (tensor.labels !== undefined) part.labels = tensor.labels;
        parts[i] = part;
      }
      this.settle(batch, k);
      callback.answer(outputsOf(names, parts), batch);
    }
    this.runEnded(callers);
  }

  private fail(batch: Batch, error: unknown): void {
    if (error instanceof InputShapeError && this.refuseNonFiniteRows(batch)) {
      // Only the callers whose rows held NaN or ±Infinity fail (their rows are zeroed, their
      // results dropped, like an aborted caller's): the batch runs again for the others.
      this.dispatch(batch);
      this.runEnded(1);
      return;
    }
    this.clearTimeout(batch);
    const callbacks = batch.callbacks;
    for (let k = 0; k < callbacks.length; k++) {
      const callback = callbacks[k];
      if (callback === undefined) continue;
      this.settle(batch, k);
      callback.fail(error);
    }
    this.runEnded(callbacks.length);
  }

  /**
   * A batched run found a non-finite input (the inner predictor's `InputShapeError`: a batch's rows
   * are copied unscanned): rejects each caller whose rows hold NaN or ±Infinity with its own
   * `InputShapeError` and zeroes those rows. One pass over the batch, on this failure path only.
   * Returns whether any caller was refused, i.e. whether the rest is worth running again.
   */
  private refuseNonFiniteRows(batch: Batch): boolean {
    let refused = false;
    const callbacks = batch.callbacks;
    for (let k = 0; k < callbacks.length; k++) {
      const callback = callbacks[k];
      if (callback === undefined) continue;
      const first = batch.starts[k] as number;
      const rows = batch.rowsOf(k);
      for (let i = 0; i < this.plans.length; i++) {
        const plan = this.plans[i] as InputPlan;
        const buffer = batch.buffers[i] as TargetArray;
        const error = plan.nonFinite(buffer, first * plan.rowSize, (first + rows) * plan.rowSize);
        if (error === undefined) continue;
        for (let j = 0; j < this.plans.length; j++) {
          const other = this.plans[j] as InputPlan;
          if (other.kind !== 'float') continue;
          (batch.buffers[j] as Float32Array).fill(0, first * other.rowSize, (first + rows) * other.rowSize);
        }
        this.settle(batch, k);
        callback.fail(error);
        refused = true;
        break;
      }
    }
    return refused;
  }

  /**
   * Runs every queued request, waits for every run and every answer, then disposes the inner
   * predictor. Later `predict` calls reject with `InvalidStateError`.
   */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      if (this.open && !this.adaptive) this.dispatch(this.open);
      if (this.pending > 0 || this.running > 0 || this.answering) await new Promise<void>((resolve) => (this.idle = resolve));
      await this.inner.dispose();
    })();
    return this.disposing;
  }
}
