import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchingPredictor, InputShapeError, OnnxPredictor } from '../../src/index.js';
import { identityModel } from '../fixtures/onnx-models.js';

const { FLOAT, STRING } = onnxProto.onnx.TensorProto.DataType;

/** `number[a][b][c]` with value `i` at flat index `i`. */
function block(a: number, b: number, c: number, at = 0): number[][][] {
  return Array.from({ length: a }, (_, i) => Array.from({ length: b }, (_, j) => Array.from({ length: c }, (_, k) => at + (i * b + j) * c + k)));
}

async function rejection(run: Promise<unknown>): Promise<InputShapeError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputShapeError);
  return error as InputShapeError;
}

describe('nested arrays of any rank', () => {
  let sequence: OnnxPredictor; // float32[1,25,96], as a PyTorch export declares it
  let symbolic: OnnxPredictor; // float32[N,T,F]
  let batched: OnnxPredictor; // float32[N,2,3]
  let rank4: OnnxPredictor; // float32[N,2,2,2]

  beforeAll(async () => {
    sequence = await OnnxPredictor.create(identityModel(FLOAT, [1, 25, 96]), { name: 'seq', version: 1 });
    symbolic = await OnnxPredictor.create(identityModel(FLOAT, ['N', 'T', 'F']));
    batched = await OnnxPredictor.create(identityModel(FLOAT, ['N', 2, 3]));
    rank4 = await OnnxPredictor.create(identityModel(FLOAT, ['N', 2, 2, 2]));
  });
  afterAll(() => Promise.all([sequence, symbolic, batched, rank4].map((p) => p.dispose())));

  it('number[1][25][96] feeds a [1,25,96] input, values in row-major order', async () => {
    const out = await sequence.predict(block(1, 25, 96));
    expect(out.y?.dims).toEqual([1, 25, 96]);
    expect(Array.from(out.y!.data as Float32Array)).toEqual(Array.from({ length: 2400 }, (_, i) => i));
  });

  it('number[25][96] (one level shallower) is one row of a [1,25,96] input', async () => {
    const out = await sequence.predict(block(1, 25, 96)[0]!);
    expect(out.y?.dims).toEqual([1, 25, 96]);
    expect((out.y!.data as Float32Array)[2399]).toBe(2399);
  });

  it('the flat row and { data, dims } still work for the same input', async () => {
    const flat = Array.from({ length: 2400 }, (_, i) => i);
    expect((await sequence.predict(flat)).y?.dims).toEqual([1, 25, 96]);
    expect((await sequence.predict({ data: Float32Array.from(flat), dims: [1, 25, 96] })).y?.dims).toEqual([1, 25, 96]);
  });

  it('symbolic inner dims are read from the nesting', async () => {
    expect((await symbolic.predict(block(2, 3, 4))).y?.dims).toEqual([2, 3, 4]);
    expect((await symbolic.predict(block(1, 3, 4)[0]!)).y?.dims).toEqual([1, 3, 4]);
    expect((await batched.predict(block(5, 2, 3))).y?.dims).toEqual([5, 2, 3]);
  });

  it('rank 4 takes four-level arrays; a bad value is named by its full index', async () => {
    const x = [block(2, 2, 2), block(2, 2, 2, 8)];
    const out = await rank4.predict(x);
    expect(out.y?.dims).toEqual([2, 2, 2, 2]);
    expect(Array.from(out.y!.data as Float32Array)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    x[1]![0]![1]![1] = Number.NaN;
    const error = await rejection(rank4.predict(x));
    expect(error.message).toBe(
      "expected 'x' float32[N,2,2,2] with finite numbers in float32 range, got number NaN at index [1][0][1][1]",
    );
  });

  describe('ragged or misshapen input is an InputShapeError naming the depth and the expected dims', () => {
    it('ragged at depth 3', async () => {
      const x = block(1, 25, 96);
      x[0]![4] = x[0]![4]!.slice(1);
      const error = await rejection(sequence.predict(x));
      expect(error.message).toBe("model 'seq' v1: expected 'x' float32[1,25,96], got [0][4] (depth 3) with 95 values, expected 96 (dims [1,25,96])");
    });

    it('ragged at depth 3 of a symbolic shape: the first element sets the dims', async () => {
      const x = block(2, 3, 4);
      x[1]![2] = [1, 2];
      const error = await rejection(symbolic.predict(x));
      expect(error.message).toBe("expected 'x' float32[N,T,F], got [1][2] (depth 3) with 2 values, expected 4 (dims [2,3,4])");
    });

    it('ragged at depth 2', async () => {
      const x = block(2, 3, 4);
      x[1]!.pop();
      const error = await rejection(symbolic.predict(x));
      expect(error.message).toBe("expected 'x' float32[N,T,F], got [1] (depth 2) with 2 values, expected 3 (dims [2,3,4])");
    });

    it('a value where an array belongs', async () => {
      const x = block(2, 2, 3) as unknown[][];
      x[1]![1] = 7;
      const error = await rejection(batched.predict(x as number[][]));
      expect(error.message).toBe("expected 'x' float32[N,2,3], got [1][1] (depth 3) as number 7, expected an array of 3 values (dims [2,2,3])");
    });

    it('the wrong length at depth 1 of a one-row form', async () => {
      const error = await rejection(sequence.predict(block(1, 24, 96)[0]!));
      expect(error.message).toBe("model 'seq' v1: expected 'x' float32[1,25,96], got 24 values at depth 1, expected 25 (dims [1,25,96])");
    });

    it('a fixed inner dim that the first element does not have', async () => {
      const error = await rejection(batched.predict(block(2, 2, 4)));
      expect(error.message).toBe("expected 'x' float32[N,2,3], got [0][0] (depth 3) with 4 values, expected 3 (dims [2,2,3])");
    });

    it('too deep or too shallow for the rank', async () => {
      expect((await rejection(batched.predict([block(1, 2, 3)] as never))).message).toBe(
        "expected 'x' float32[N,2,3], got 4-level nested arrays; a rank-3 input takes 3-level nested arrays (or 2-level nested arrays for one row)",
      );
      expect((await rejection(rank4.predict([[1, 2]]))).message).toBe(
        "expected 'x' float32[N,2,2,2], got 2-level nested arrays; a rank-4 input takes 4-level nested arrays (or 3-level nested arrays for one row)",
      );
    });

    it('an empty array inside', async () => {
      expect((await rejection(symbolic.predict([[[]]]))).message).toBe("expected 'x' float32[N,T,F], got an empty array at depth 3");
    });

    it('a flat row of an input with symbolic inner dims', async () => {
      expect((await rejection(symbolic.predict([1, 2, 3]))).message).toMatch(/takes nested arrays, \{ data, dims \} or a Tensor/);
    });
  });

  it('batching takes nested rows and one-row forms of a rank-3 input alike', async () => {
    const inner = await OnnxPredictor.create(identityModel(FLOAT, ['N', 2, 3]));
    const batching = new BatchingPredictor(inner, { maxBatchSize: 8, maxDelayMs: 5 });
    try {
      const [a, b] = await Promise.all([batching.predict(block(2, 2, 3)), batching.predict(block(1, 2, 3, 12)[0]!)]);
      expect(a.y?.dims).toEqual([2, 2, 3]);
      expect(Array.from(a.y!.data as Float32Array)).toEqual(Array.from({ length: 12 }, (_, i) => i));
      expect(b.y?.dims).toEqual([1, 2, 3]);
      expect(Array.from(b.y!.data as Float32Array)).toEqual(Array.from({ length: 6 }, (_, i) => 12 + i));
      const ragged = block(2, 2, 3);
      ragged[1]![0] = [1];
      expect((await rejection(batching.predict(ragged))).message).toMatch(/got \[1\]\[0\] \(depth 3\) with 1 values, expected 3/);
    } finally {
      await batching.dispose();
    }
  });

  it('string inputs nest the same way', async () => {
    const text = await OnnxPredictor.create(identityModel(STRING, ['N', 2, 2]));
    const out = await text.predict([
      [['a', 'b'], ['c', 'd']],
      [['e', 'f'], ['g', 'h']],
    ]);
    expect(out.y).toEqual({ data: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], dims: [2, 2, 2], type: 'string' });
    await expect(text.predict([['a', 'b'], ['c', 3 as unknown as string]])).rejects.toThrow(/with strings, got number 3 at row 1, column 1/);
    await text.dispose();
  });
});
