import { Tensor } from 'onnxruntime-node';
import {
  AbortedError,
  CapacityError,
  InvalidStateError,
  TimeoutError,
  ValidationError,
  describeValue,
} from '../errors.js';
import { checkFunction, checkNumber } from '../options.js';
import type { ModelSignature } from '../registry/signature.js';
import { InputPlans, isSingleForm, type InputPlan, type TargetArray } from './inputs.js';
import type { OutputData, OutputTensor, PredictInput, PredictOptions, PredictOutput, Predictor, TensorInput } from './types.js';

/** Options of {@link BatchingPredictor}; the names follow Triton's dynamic batcher. */
export interface BatchingOptions {
  /**
   * Most rows one run takes (default 32). A batch runs as soon as it holds this many rows; a
   * single request with more rows runs on its own.
   */
  maxBatchSize?: number;
  /**
   * Longest a request waits for batch-mates, in ms (default 1): the price in latency of a
   * partly filled batch. `0` runs whatever arrived in the same event-loop turn.
   */
  maxDelayMs?: number;
  /** Most requests accepted and not yet answered (default 1024); beyond it `predict` rejects at once with `CapacityError`. */
  maxQueue?: number;
  /**
   * Longest a request may wait for its answer, in ms, counted from `predict` (default: no limit);
   * then it rejects with `TimeoutError` and its batch-mates are unaffected. Must exceed `maxDelayMs`.
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

type Resolve = (output: PredictOutput) => void;
type Reject = (error: unknown) => void;

/** One caller's place in a batch. */
class Waiter {
  settled = false;
  onAbort: (() => void) | undefined = undefined;
  constructor(
    readonly rows: number,
    readonly offset: number,
    readonly resolve: Resolve,
    readonly reject: Reject,
    readonly signal: AbortSignal | undefined,
    readonly deadline: number,
  ) {}
}

/** Requests joined into one run; `buffers` hold each input's rows back to back. */
class Batch {
  rows = 0;
  readonly waiters: Waiter[] = [];
  timer: unknown = undefined;
  constructor(readonly buffers: TargetArray[]) {}
}

function sliceRows(data: OutputData, start: number, end: number): OutputData {
  return ArrayBuffer.isView(data) ? data.subarray(start, end) : data.slice(start, end);
}

/**
 * Dynamic micro-batching, as Triton's dynamic batcher does it: concurrent `predict` calls are
 * validated one by one, their rows copied into one buffer per input, and run as a single call of
 * the inner predictor (concatenated along dim 0); each caller then gets its own rows of every
 * output, in order. A batch runs when it holds `maxBatchSize` rows or when its oldest request has
 * waited `maxDelayMs`.
 *
 * A bad input fails only its own caller (it is validated before it joins a batch); a full queue
 * rejects at once with `CapacityError`; a timed-out (`TimeoutError`) or aborted (`AbortedError`)
 * request is answered at once and its rows' results dropped, without touching its batch-mates.
 * Models whose inputs do not share a dynamic first dimension are refused at construction.
 *
 * @example
 * ```ts
 * const predictor = new BatchingPredictor(await OnnxPredictor.create(bytes), { maxBatchSize: 64 });
 * // 256 concurrent requests become 4 runs of 64 rows:
 * await Promise.all(rows.map((row) => predictor.predict(row)));
 * ```
 */
export class BatchingPredictor implements Predictor {
  /** The inner predictor's signature, by which inputs are validated and batched. */
  readonly signature: ModelSignature;
  /** Options in force, defaults filled in. */
  readonly options: {
    readonly maxBatchSize: number;
    readonly maxDelayMs: number;
    readonly maxQueue: number;
    readonly timeoutMs: number | undefined;
  };
  private readonly inner: Predictor;
  private readonly plans: readonly InputPlan[];
  private readonly inputs: InputPlans;
  private readonly clock: () => number;
  private readonly where: string;
  private open: Batch | undefined;
  private readonly timers: BatchingTimers;
  private flushTimer: unknown;
  private pending = 0;
  private running = 0;
  private disposing: Promise<void> | undefined;
  private idle: (() => void) | undefined;
  private readonly flush = () => {
    this.flushTimer = undefined;
    if (this.open) this.dispatch(this.open);
  };

  constructor(inner: Predictor, options: BatchingOptions = {}) {
    if (typeof inner !== 'object' || inner === null || typeof inner.predict !== 'function') {
      throw new ValidationError(`inner must be a Predictor, got ${describeValue(inner)}`);
    }
    const maxBatchSize = checkNumber('maxBatchSize', options.maxBatchSize ?? 32, { min: 1, integer: true });
    const maxDelayMs = checkNumber('maxDelayMs', options.maxDelayMs ?? 1, { min: 0 });
    const maxQueue = checkNumber('maxQueue', options.maxQueue ?? 1024, { min: 1, integer: true });
    const timeoutMs =
      options.timeoutMs === undefined ? undefined : checkNumber('timeoutMs', options.timeoutMs, { min: maxDelayMs, exclusiveMin: true });
    this.options = { maxBatchSize, maxDelayMs, maxQueue, timeoutMs };
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
   * Queues one request (one or more rows) for the next batch. Rejects at once with
   * `InputShapeError` (bad input), `CapacityError` (queue full) or `InvalidStateError` (disposed).
   */
  predict(input: PredictInput, options?: PredictOptions): Promise<PredictOutput> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new AbortedError(`${this.where}prediction aborted before it was queued`, { cause: signal.reason }));
    if (this.disposing) return Promise.reject(new InvalidStateError(`${this.where}predictor is disposed`));
    if (this.pending >= this.options.maxQueue) {
      return Promise.reject(
        new CapacityError(`${this.where}batching queue is full: maxQueue is ${this.options.maxQueue} requests waiting or running`),
      );
    }
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
      return Promise.reject(error);
    }
    const maxBatchSize = this.options.maxBatchSize;
    let batch = this.open;
    if (batch && batch.rows + rows > maxBatchSize) {
      this.dispatch(batch);
      batch = undefined;
    }
    // A request larger than a batch gets a batch of its own, so timeouts and aborts work alike.
    batch ??= this.openBatch(Math.max(rows, maxBatchSize));
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
      return Promise.reject(error);
    }
    const deadline = this.options.timeoutMs === undefined ? 0 : this.clock() + this.options.timeoutMs;
    const offset = batch.rows;
    const target = batch;
    const promise = new Promise<PredictOutput>((resolve, reject) => {
      const waiter = new Waiter(rows, offset, resolve, reject, signal, deadline);
      target.waiters.push(waiter);
      if (signal) this.watchAbort(target, waiter, signal);
    });
    this.pending++;
    batch.rows += rows;
    if (batch.rows >= maxBatchSize) this.dispatch(batch);
    else if (this.flushTimer === undefined) {
      // Not unref()'d: it only exists while a caller awaits this batch, and must fire for it.
      this.flushTimer =
        this.options.maxDelayMs === 0 ? setImmediate(this.flush) : this.timers.setTimeout(this.flush, this.options.maxDelayMs);
    }
    return promise;
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
    const batch = new Batch(this.plans.map((p) => p.allocate(rows * p.rowSize)));
    this.open = batch;
    return batch;
  }

  private watchAbort(batch: Batch, waiter: Waiter, signal: AbortSignal): void {
    waiter.onAbort = () => {
      if (waiter.settled) return;
      // The last request of the open batch can simply be taken back; otherwise its rows stay
      // in the batch (its mates' offsets depend on them) and their results are dropped.
      if (batch === this.open && batch.waiters[batch.waiters.length - 1] === waiter) {
        batch.waiters.pop();
        batch.rows -= waiter.rows;
      }
      this.settle(waiter);
      waiter.reject(new AbortedError(`${this.where}prediction aborted`, { cause: signal.reason }));
      if (batch === this.open && batch.waiters.length === 0) this.cancelFlush();
    };
    signal.addEventListener('abort', waiter.onAbort, { once: true });
  }

  private settle(waiter: Waiter): void {
    waiter.settled = true;
    this.pending--;
    if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
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
    if (batch.waiters.every((w) => w.settled)) return;
    const rows = batch.rows;
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
    if (this.options.timeoutMs !== undefined) this.armTimeout(batch);
    this.inner.predict(input).then(
      (output) => this.complete(batch, output),
      (error: unknown) => this.fail(batch, error),
    );
  }

  private tensorOf(plan: InputPlan, buffer: TargetArray, rows: number): Tensor {
    const length = rows * plan.rowSize;
    const data = length === buffer.length ? buffer : ArrayBuffer.isView(buffer) ? buffer.subarray(0, length) : buffer.slice(0, length);
    return new Tensor(plan.type as 'float32', data as Float32Array, [rows, ...(plan.rowDims as number[])]);
  }

  private armTimeout(batch: Batch): void {
    const next = batch.waiters.find((w) => !w.settled);
    if (!next) return;
    batch.timer = this.timers.setTimeout(() => {
      const now = this.clock();
      for (const waiter of batch.waiters) {
        if (waiter.settled || waiter.deadline > now) continue;
        this.settle(waiter);
        waiter.reject(new TimeoutError(`${this.where}prediction timed out after ${this.options.timeoutMs} ms (timeoutMs)`));
      }
      this.armTimeout(batch);
    }, Math.max(0, next.deadline - this.clock()));
  }

  private finished(batch: Batch): void {
    if (batch.timer !== undefined) this.timers.clearTimeout(batch.timer as never);
    if (--this.running === 0 && this.idle) this.idle();
  }

  private complete(batch: Batch, output: PredictOutput): void {
    this.finished(batch);
    const waiters = batch.waiters;
    const names = Object.keys(output);
    for (const name of names) {
      const dims = (output[name] as OutputTensor).dims;
      if (dims[0] !== batch.rows) {
        this.fail(
          batch,
          new ValidationError(
            `${this.where}output '${name}' has dims [${dims.join(',')}] for a batch of ${batch.rows} rows: the model does not keep the batch dimension, so it cannot be batched`,
          ),
          false,
        );
        return;
      }
    }
    if (waiters.length === 1) {
      const only = waiters[0] as Waiter;
      if (!only.settled) {
        this.settle(only);
        only.resolve(output);
      }
      return;
    }
    // Per output: elements per row and the dims of a one-row answer, shared by every one-row caller.
    const widths: number[] = [];
    const oneRowDims: Array<readonly number[]> = [];
    for (const name of names) {
      const tensor = output[name] as OutputTensor;
      widths.push(tensor.data.length / batch.rows);
      oneRowDims.push(Object.freeze([1, ...tensor.dims.slice(1)]));
    }
    for (const waiter of waiters) {
      if (waiter.settled) continue;
      const mine: PredictOutput = {};
      for (let i = 0; i < names.length; i++) {
        const name = names[i] as string;
        const tensor = output[name] as OutputTensor;
        const width = widths[i] as number;
        const part: OutputTensor = {
          data: sliceRows(tensor.data, waiter.offset * width, (waiter.offset + waiter.rows) * width),
          dims: waiter.rows === 1 ? (oneRowDims[i] as readonly number[]) : [waiter.rows, ...tensor.dims.slice(1)],
          type: tensor.type,
        };
        if (tensor.labels !== undefined) part.labels = tensor.labels;
        mine[name] = part;
      }
      this.settle(waiter);
      waiter.resolve(mine);
    }
  }

  private fail(batch: Batch, error: unknown, first = true): void {
    if (first) this.finished(batch);
    for (const waiter of batch.waiters) {
      if (waiter.settled) continue;
      this.settle(waiter);
      waiter.reject(error);
    }
  }

  /**
   * Runs the open batch now, waits for every running batch, then disposes the inner predictor.
   * Later `predict` calls reject with `InvalidStateError`.
   */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      if (this.open) this.dispatch(this.open);
      if (this.running > 0) await new Promise<void>((resolve) => (this.idle = resolve));
      await this.inner.dispose();
    })();
    return this.disposing;
  }
}
