import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortedError,
  BatchingPredictor,
  CapacityError,
  FunctionPredictor,
  InputShapeError,
  InvalidStateError,
  OnnxPredictor,
  TimeoutError,
  ValidationError,
  type PredictInput,
  type PredictOutput,
  type Predictor,
} from '../../src/index.js';
import { FakeClock, seededRandom } from '../../src/testing/index.js';
import { fixedBatchRegression, irisClassifier, regression, twoInput } from '../fixtures/onnx-models.js';

/** Dims of one input value as a predictor receives it: a batch's tensor, or a caller's own rows when it ran alone. */
function dimsOf(value: unknown): number[] {
  if (Array.isArray(value)) return Array.isArray(value[0]) ? [value.length, (value[0] as unknown[]).length] : [1, value.length];
  const dims = (value as { dims?: readonly number[] }).dims;
  if (dims) return [...dims];
  return dimsOf(Object.values(value as object)[0]);
}

/** Wraps a predictor and records the rows of every call it receives. */
function counting(inner: Predictor): { predictor: Predictor; calls: number[]; inputs: PredictInput[] } {
  const calls: number[] = [];
  const inputs: PredictInput[] = [];
  const predictor = new FunctionPredictor<PredictInput, PredictOutput>(
    (input, options) => {
      calls.push(dimsOf(input)[0] as number);
      inputs.push(input);
      return inner.predict(input, options);
    },
    { signature: inner.signature!, dispose: () => inner.dispose() },
  );
  return { predictor, calls, inputs };
}

/** An inner predictor whose runs finish only when the test says so, and which tells whether it was disposed. */
function gated(signature: Predictor['signature']) {
  const runs: Array<{ input: PredictInput; dims: number[]; release: (output?: PredictOutput) => void; fail: (e: unknown) => void }> = [];
  let disposed = false;
  const predictor = new FunctionPredictor<PredictInput, PredictOutput>(
    (input) =>
      new Promise<PredictOutput>((resolve, reject) => {
        // Echo: output 'y' is the input rows, so each caller can see its own rows come back.
        const dims = dimsOf(input);
        const data = Array.isArray(input) ? Float32Array.from((input as number[][]).flat()) : (input as unknown as { data: Float32Array }).data;
        runs.push({ input, dims, release: (o) => resolve(o ?? { y: { data, dims, type: 'float32' } }), fail: reject });
      }),
    {
      signature,
      dispose: () => {
        disposed = true;
      },
    },
  );
  return { predictor, runs, disposed: () => disposed };
}

const randomRows = (random: () => number, rows: number, width: number) =>
  Array.from({ length: rows }, () => Array.from({ length: width }, () => Math.round((random() * 20 - 10) * 100) / 100));

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('BatchingPredictor', () => {
  let reg: OnnxPredictor;
  let iris: OnnxPredictor;
  let two: OnnxPredictor;
  beforeAll(async () => {
    reg = await OnnxPredictor.create(regression());
    iris = await OnnxPredictor.create(irisClassifier());
    two = await OnnxPredictor.create(twoInput());
  });
  afterAll(async () => {
    await Promise.all([reg, iris, two].map((p) => p.dispose()));
  });

  it('returns to each of 1000 concurrent callers exactly its unbatched result, in order, with mixed row counts', async () => {
    const random = seededRandom(7);
    const inputs = Array.from({ length: 1000 }, () => {
      const rows = 1 + Math.floor(random() * 5);
      const value = randomRows(random, rows, 3);
      return rows === 1 && random() < 0.5 ? (value[0] as number[]) : value;
    });
    const expected = [];
    for (const input of inputs) expected.push(await reg.predict(input));
    const { predictor, calls } = counting(reg);
    const batching = new BatchingPredictor(predictor, { maxBatchSize: 32 });
    const order: number[] = [];
    const results = await Promise.all(
      inputs.map((input, i) =>
        batching.predict(input).then((out) => {
          order.push(i);
          return out;
        }),
      ),
    );
    for (let i = 0; i < inputs.length; i++) {
      expect(results[i]?.y?.dims).toEqual(expected[i]?.y?.dims);
      expect(Array.from(results[i]!.y!.data as Float32Array)).toEqual(Array.from(expected[i]!.y!.data as Float32Array));
    }
    expect(order).toEqual(inputs.map((_, i) => i));
    expect(calls.length).toBeLessThan(inputs.length / 4);
    expect(Math.max(...calls)).toBeLessThanOrEqual(32);
    expect(calls.reduce((a, b) => a + b, 0)).toBe(inputs.reduce((n, x) => n + (Array.isArray(x[0]) ? x.length : 1), 0));
    expect(batching.size).toBe(0);
  });

  it('batches multi-input models exactly too', async () => {
    const random = seededRandom(11);
    const inputs = Array.from({ length: 300 }, () => {
      const rows = 1 + Math.floor(random() * 3);
      return { a: randomRows(random, rows, 2), b: randomRows(random, rows, 2) };
    });
    const expected = await Promise.all(inputs.map((input) => two.predict(input)));
    const batching = new BatchingPredictor(two, { maxBatchSize: 16 });
    const results = await Promise.all(inputs.map((input) => batching.predict(input)));
    for (let i = 0; i < inputs.length; i++) {
      for (const name of ['sum', 'product']) {
        expect(results[i]?.[name]?.dims).toEqual(expected[i]?.[name]?.dims);
        expect(Array.from(results[i]![name]!.data as Float32Array)).toEqual(Array.from(expected[i]![name]!.data as Float32Array));
      }
    }
  });

  it('splits classifier outputs back per caller: same labels; probabilities as the batch kernel computes them', async () => {
    // onnxruntime's LinearClassifier picks different kernels by batch size, so probabilities can
    // differ from a one-row run in the last float32 bit: compared to 1e-6, labels exactly.
    const random = seededRandom(3);
    const inputs = Array.from({ length: 200 }, () => randomRows(random, 1 + Math.floor(random() * 3), 4).map((r) => r.map((v) => Math.abs(v) / 2)));
    const expected = await Promise.all(inputs.map((input) => iris.predict(input)));
    const batching = new BatchingPredictor(iris);
    const results = await Promise.all(inputs.map((input) => batching.predict(input)));
    for (let i = 0; i < inputs.length; i++) {
      expect(results[i]?.label).toEqual(expected[i]?.label);
      expect(results[i]?.probabilities?.dims).toEqual(expected[i]?.probabilities?.dims);
      const got = results[i]!.probabilities!.data as Float32Array;
      const want = expected[i]!.probabilities!.data as Float32Array;
      for (let j = 0; j < want.length; j++) expect(Math.abs((got[j] as number) - (want[j] as number))).toBeLessThan(1e-6);
    }
  });

  it('runs a batch as soon as it is full, without waiting for maxDelayMs', async () => {
    const clock = new FakeClock();
    const { predictor, calls } = counting(reg);
    const batching = new BatchingPredictor(predictor, { maxBatchSize: 4, maxDelayMs: 1000, timers: clock, clock: clock.now });
    const results = Promise.all([batching.predict([[1, 2, 3]]), batching.predict([[1, 2, 3], [4, 5, 6], [7, 8, 9]])]);
    await expect(results).resolves.toHaveLength(2);
    expect(calls).toEqual([4]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('runs a partial batch once its oldest request has waited maxDelayMs', async () => {
    const clock = new FakeClock();
    const { predictor, calls } = counting(reg);
    const batching = new BatchingPredictor(predictor, { maxBatchSize: 8, maxDelayMs: 5, timers: clock, clock: clock.now });
    const first = batching.predict([1, 2, 3]);
    clock.advance(3);
    const second = batching.predict([4, 5, 6]);
    await flush();
    expect(calls).toEqual([]);
    clock.advance(2);
    await Promise.all([first, second]);
    expect(calls).toEqual([2]);
  });

  it('maxDelayMs 0 runs what arrived in the same event-loop turn', async () => {
    const { predictor, calls } = counting(reg);
    const batching = new BatchingPredictor(predictor, { maxBatchSize: 64, maxDelayMs: 0 });
    await Promise.all(Array.from({ length: 10 }, () => batching.predict([1, 2, 3])));
    expect(calls).toEqual([10]);
  });

  it('a request larger than maxBatchSize runs on its own', async () => {
    const { predictor, calls } = counting(reg);
    const batching = new BatchingPredictor(predictor, { maxBatchSize: 2 });
    const rows = [[1, 2, 3], [4, 5, 6], [7, 8, 9]];
    const [small, big] = await Promise.all([batching.predict([0, 0, 0]), batching.predict(rows)]);
    expect(big?.y?.dims).toEqual([3, 1]);
    expect(Array.from(big!.y!.data as Float32Array)).toEqual(Array.from((await reg.predict(rows)).y!.data as Float32Array));
    expect(small?.y?.dims).toEqual([1, 1]);
    expect(calls).toEqual([1, 3]);
  });

  it('a bad input fails only its own caller', async () => {
    const batching = new BatchingPredictor(reg, { maxBatchSize: 8 });
    const calls = [
      batching.predict([1, 2, 3]),
      batching.predict([1, 2]),
      batching.predict([1, Number.NaN, 3]),
      batching.predict({ data: new Float32Array(3), dims: [1, 3] }),
      batching.predict([4, 5, 6]),
    ];
    const settled = await Promise.allSettled(calls);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(InputShapeError);
    expect(String((settled[1] as PromiseRejectedResult).reason.message)).toMatch(/expected 'x' float32\[N,3\], got 2 values/);
    expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(InputShapeError);
    const last = (settled[4] as PromiseFulfilledResult<PredictOutput>).value;
    expect(Array.from(last.y!.data as Float32Array)).toEqual(Array.from((await reg.predict([4, 5, 6])).y!.data as Float32Array));
  });

  it('a full queue rejects at once with CapacityError and recovers when it drains', async () => {
    const { predictor, runs } = gated(reg.signature);
    const batching = new BatchingPredictor(predictor, { maxBatchSize: 2, maxQueue: 4 });
    const accepted = [1, 2, 3, 4].map((v) => batching.predict([v, v, v]));
    await expect(batching.predict([5, 5, 5])).rejects.toBeInstanceOf(CapacityError);
    await expect(batching.predict([5, 5, 5])).rejects.toThrow(/maxQueue is 4/);
    // 1 runs alone; 2 + 3 fill a batch and 4 opens the next, both waiting for that run.
    expect(runs.map((r) => r.dims[0])).toEqual([1]);
    for (let i = 0; i < 3; i++) {
      runs[i]?.release();
      // After a batch of several callers the next run waits for the end of that turn.
      await flush();
      await flush();
    }
    expect(runs.map((r) => r.dims[0])).toEqual([1, 2, 1]);
    const outputs = await Promise.all(accepted);
    expect(outputs.map((o) => Array.from(o.y!.data as Float32Array))).toEqual([[1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4]]);
    const after = batching.predict([6, 6, 6]);
    await flush();
    runs[3]?.release();
    await expect(after).resolves.toMatchObject({ y: { dims: [1, 3] } });
  });

  it('a timed-out request is answered with TimeoutError; its batch-mate still gets its rows', async () => {
    const clock = new FakeClock();
    const { predictor, runs } = gated(reg.signature);
    const batching = new BatchingPredictor(predictor, { maxBatchSize: 8, maxDelayMs: 10, timeoutMs: 100, timers: clock, clock: clock.now });
    const early = batching.predict([1, 1, 1]);
    const earlyResult = early.catch((e: unknown) => e);
    clock.advance(5);
    const late = batching.predict([2, 2, 2]);
    clock.advance(5); // the batch runs at t = 10
    expect(runs).toHaveLength(1);
    clock.advance(90); // t = 100: the first request's deadline
    expect(await earlyResult).toBeInstanceOf(TimeoutError);
    expect(((await earlyResult) as Error).message).toMatch(/timed out after 100 ms/);
    expect(batching.size).toBe(1);
    runs[0]?.release();
    const out = await late;
    expect(Array.from(out.y!.data as Float32Array)).toEqual([2, 2, 2]);
    expect(batching.size).toBe(0);
  });

  it('an aborted request is removed without breaking its batch-mates, queued or running', async () => {
    const { predictor, runs } = gated(reg.signature);
    const clock = new FakeClock();
    const batching = new BatchingPredictor(predictor, { maxBatchSize: 8, maxDelayMs: 10, timers: clock, clock: clock.now });
    const middle = new AbortController();
    const last = new AbortController();
    const running = new AbortController();
    const a = batching.predict([1, 1, 1]);
    const b = batching.predict([2, 2, 2], { signal: middle.signal }).catch((e: unknown) => e);
    const c = batching.predict([3, 3, 3], { signal: running.signal }).catch((e: unknown) => e);
    const d = batching.predict([4, 4, 4], { signal: last.signal }).catch((e: unknown) => e);
    middle.abort(); // queued, not last: its rows stay, its result is dropped
    last.abort(); // queued and last: taken back out of the batch
    expect(await b).toBeInstanceOf(AbortedError);
    expect(await d).toBeInstanceOf(AbortedError);
    clock.advance(10);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.dims).toEqual([3, 3]);
    running.abort(); // running: answered now, result dropped
    expect(await c).toBeInstanceOf(AbortedError);
    runs[0]?.release();
    expect(Array.from((await a).y!.data as Float32Array)).toEqual([1, 1, 1]);
    expect(batching.size).toBe(0);
    const already = new AbortController();
    already.abort();
    await expect(batching.predict([1, 1, 1], { signal: already.signal })).rejects.toBeInstanceOf(AbortedError);
  });

  it('a batch whose every request was aborted does not run', async () => {
    const { predictor, runs } = gated(reg.signature);
    const batching = new BatchingPredictor(predictor, { maxBatchSize: 8, maxDelayMs: 0 });
    const controller = new AbortController();
    const first = batching.predict([1, 1, 1], { signal: controller.signal }).catch((e: unknown) => e);
    const second = batching.predict([2, 2, 2], { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort();
    expect(await first).toBeInstanceOf(AbortedError);
    expect(await second).toBeInstanceOf(AbortedError);
    await flush();
    expect(runs).toHaveLength(0);
  });

  it('an inner failure rejects every caller of that batch with it, and only them', async () => {
    const { predictor, runs } = gated(reg.signature);
    const batching = new BatchingPredictor(predictor, { maxBatchSize: 2 });
    const first = batching.predict([0, 0, 0]);
    const both = [batching.predict([1, 1, 1]), batching.predict([2, 2, 2])].map((p) => p.catch((e: unknown) => e));
    runs[0]?.release();
    await flush();
    const boom = new Error('boom');
    runs[1]?.fail(boom);
    expect(await Promise.all(both)).toEqual([boom, boom]);
    await expect(first).resolves.toMatchObject({ y: { dims: [1, 3] } });
    expect(batching.size).toBe(0);
  });

  it('refuses models it cannot batch, and bad options, at construction', async () => {
    const fixed = await OnnxPredictor.create(fixedBatchRegression());
    expect(() => new BatchingPredictor(fixed)).toThrow(ValidationError);
    expect(() => new BatchingPredictor(fixed)).toThrow(/input 'x' float32\[1,3\] has a fixed batch size of 1/);
    await fixed.dispose();
    expect(() => new BatchingPredictor(new FunctionPredictor(() => ({})))).toThrow(/inner must have a signature/);
    expect(() => new BatchingPredictor(reg, { maxBatchSize: 0 })).toThrow(/maxBatchSize must be an integer >= 1, got number 0/);
    expect(() => new BatchingPredictor(reg, { maxQueue: 1.5 })).toThrow(/maxQueue must be an integer/);
    expect(() => new BatchingPredictor(reg, { maxDelayMs: -1 })).toThrow(/maxDelayMs must be a finite number >= 0/);
    expect(() => new BatchingPredictor(reg, { maxDelayMs: 5, timeoutMs: 5 })).toThrow(/timeoutMs must be a finite number > 5/);
    expect(() => new BatchingPredictor(null as never)).toThrow(/inner must be a Predictor, got null/);
  });

  it('dispose runs the open batch, waits for it, then disposes the inner predictor', async () => {
    const { predictor, runs, disposed: innerDisposed } = gated(reg.signature);
    const batching = new BatchingPredictor(predictor, { maxBatchSize: 8, maxDelayMs: 1000 });
    const pending = batching.predict([1, 1, 1]);
    const disposed = batching.dispose();
    await expect(batching.predict([1, 1, 1])).rejects.toBeInstanceOf(InvalidStateError);
    await flush();
    expect(runs).toHaveLength(1);
    expect(innerDisposed()).toBe(false);
    runs[0]?.release();
    await expect(pending).resolves.toMatchObject({ y: { dims: [1, 3] } });
    await disposed;
    expect(innerDisposed()).toBe(true);
  });

  describe('adaptive batching (the default)', () => {
    /** Bad inputs at fixed places: a short row, a NaN, a string, a row too wide. */
    const bad: Array<[number, PredictInput]> = [
      [3, [1, 2] as number[]],
      [7, [1, Number.NaN, 3]],
      [12, ['a', 'b', 'c'] as unknown as number[]],
      [200, [[1, 2, 3, 4]]],
    ];

    for (const callers of [1, 16, 256]) {
      it(`${callers} concurrent caller(s): each gets exactly its unbatched result, in order; bad input fails only its own caller`, async () => {
        const random = seededRandom(callers);
        const inputs: PredictInput[] = Array.from({ length: callers }, () => {
          const rows = random() < 0.8 ? 1 : 2;
          const value = randomRows(random, rows, 3);
          return rows === 1 && random() < 0.5 ? (value[0] as number[]) : value;
        });
        for (const [at, input] of bad) if (at < callers) inputs[at] = input;
        const expected = await Promise.allSettled(inputs.map((input) => reg.predict(input)));
        const { predictor, calls, inputs: received } = counting(reg);
        const batching = new BatchingPredictor(predictor);
        const order: number[] = [];
        const settled = await Promise.allSettled(
          inputs.map((input, i) =>
            batching.predict(input).finally(() => {
              order.push(i);
            }),
          ),
        );
        for (let i = 0; i < callers; i++) {
          const want = expected[i] as PromiseSettledResult<PredictOutput>;
          const got = settled[i] as PromiseSettledResult<PredictOutput>;
          expect(got.status, `caller ${i}`).toBe(want.status);
          if (want.status === 'rejected') {
            expect((got as PromiseRejectedResult).reason).toBeInstanceOf(InputShapeError);
            expect(String((got as PromiseRejectedResult).reason.message)).toBe(String(want.reason.message));
            continue;
          }
          const output = (got as PromiseFulfilledResult<PredictOutput>).value;
          expect(output.y?.dims, `caller ${i}`).toEqual(want.value.y?.dims);
          expect(Array.from(output.y!.data as Float32Array), `caller ${i}`).toEqual(Array.from(want.value.y!.data as Float32Array));
        }
        // Answers come back in the order the calls were made (rejections of bad input at once, first).
        const badAt = new Set(bad.map(([at]) => at).filter((at) => at < callers));
        expect(order.filter((i) => !badAt.has(i))).toEqual(inputs.map((_, i) => i).filter((i) => !badAt.has(i)));
        // The first call ran at once, unchanged; everything that arrived meanwhile ran as batches of ≤ 128 rows.
        expect(received[0]).toBe(inputs[0]);
        const batches: number[] = [];
        for (let i = 1; i < callers; i++) {
          if (badAt.has(i)) continue;
          const rows = dimsOf(inputs[i])[0] as number;
          if (batches.length === 0 || (batches[batches.length - 1] as number) + rows > 128) batches.push(rows);
          else batches[batches.length - 1]! += rows;
        }
        expect(calls).toEqual([dimsOf(inputs[0])[0], ...batches]);
        expect(batching.size).toBe(0);
      });
    }

    it('a lone request runs at once: no timer, no copy', async () => {
      const clock = new FakeClock();
      const { predictor, inputs } = counting(reg);
      const batching = new BatchingPredictor(predictor, { timers: clock, clock: clock.now });
      const row = [1, 2, 3];
      const output = await batching.predict(row);
      expect(inputs).toEqual([row]);
      expect(inputs[0]).toBe(row);
      expect(clock.pendingTimers).toBe(0);
      expect(Array.from(output.y!.data as Float32Array)).toEqual(Array.from((await reg.predict(row)).y!.data as Float32Array));
      expect(batching.options.maxDelayMs).toBeUndefined();
      expect(batching.options.maxBatchSize).toBe(128);
    });

    it('queues while a run is in flight and runs everything queued as one batch when it ends', async () => {
      const { predictor, runs } = gated(reg.signature);
      const batching = new BatchingPredictor(predictor, { maxBatchSize: 4 });
      const first = batching.predict([1, 1, 1]);
      expect(runs.map((r) => r.dims)).toEqual([[1, 3]]);
      const queued = [2, 3, 4, 5, 6, 7].map((v) => batching.predict([v, v, v]));
      await flush();
      expect(runs).toHaveLength(1); // one run in flight at a time
      runs[0]?.release();
      await first;
      expect(runs.map((r) => r.dims)).toEqual([[1, 3], [4, 3]]);
      runs[1]?.release();
      await flush();
      // A batch of several callers ended: the queued rows wait for the end of that turn, so
      // whatever its callers send next joins them.
      expect(runs).toHaveLength(2);
      await flush();
      expect(runs.map((r) => r.dims)).toEqual([[1, 3], [4, 3], [2, 3]]);
      runs[2]?.release();
      const outputs = await Promise.all(queued);
      expect(outputs.map((o) => Array.from(o.y!.data as Float32Array))).toEqual([2, 3, 4, 5, 6, 7].map((v) => [v, v, v]));
      // Callers answered by a batch come back in the same event-loop turn: what they send next
      // joins one batch, run when that turn ends, not the first alone and the rest after it.
      const again = [batching.predict([8, 8, 8]), batching.predict([9, 9, 9])];
      expect(runs).toHaveLength(3);
      await flush();
      expect(runs[3]?.dims).toEqual([2, 3]);
      runs[3]?.release();
      await Promise.all(again);
      await flush();
      // Idle again: a lone request runs at once.
      const next = batching.predict([10, 10, 10]);
      expect(runs).toHaveLength(5);
      runs[4]?.release();
      await expect(next).resolves.toMatchObject({ y: { dims: [1, 3] } });
    });

    it('timeoutMs counts while a request waits for the run in flight; a batch left with no caller does not run', async () => {
      const clock = new FakeClock();
      const { predictor, runs } = gated(reg.signature);
      const batching = new BatchingPredictor(predictor, { timeoutMs: 50, timers: clock, clock: clock.now });
      const running = batching.predict([1, 1, 1]).catch((e: unknown) => e);
      clock.advance(10);
      const waiting = batching.predict([2, 2, 2]).catch((e: unknown) => e);
      expect(runs).toHaveLength(1);
      clock.advance(40);
      expect(await running).toBeInstanceOf(TimeoutError);
      clock.advance(10);
      expect(await waiting).toBeInstanceOf(TimeoutError);
      runs[0]?.release();
      await flush();
      expect(runs).toHaveLength(1);
      expect(batching.size).toBe(0);
      expect(clock.pendingTimers).toBe(0);
    });

    it('dispose runs what is queued, then disposes the inner predictor', async () => {
      const { predictor, runs, disposed: innerDisposed } = gated(reg.signature);
      const batching = new BatchingPredictor(predictor);
      const first = batching.predict([1, 1, 1]);
      const second = batching.predict([2, 2, 2]);
      const disposed = batching.dispose();
      await expect(batching.predict([3, 3, 3])).rejects.toBeInstanceOf(InvalidStateError);
      runs[0]?.release();
      await first;
      expect(runs).toHaveLength(2);
      expect(innerDisposed()).toBe(false);
      runs[1]?.release();
      expect(Array.from((await second).y!.data as Float32Array)).toEqual([2, 2, 2]);
      await disposed;
      expect(innerDisposed()).toBe(true);
    });
  });
});
