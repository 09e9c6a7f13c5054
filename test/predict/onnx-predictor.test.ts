import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortedError,
  InputShapeError,
  InvalidStateError,
  InferenceError,
  ModelLoadError,
  ModelRolloutError,
  OnnxPredictor,
  ValidationError,
  toPrediction,
} from '../../src/index.js';
import { toOutputs } from '../../src/predict/outputs.js';
import { brokenModel, fixedBatchRegression, irisClassifier, regression, twoInput } from '../fixtures/onnx-models.js';

/** x float32[N,K] → y = x · W (W 2×2): the inner dim is symbolic, so only onnxruntime can check it. */
function symbolicInnerMatMul(): Uint8Array {
  const { onnx } = onnxProto;
  const info = (name: string, dims: Array<string | number>) => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'symbolic_inner',
      node: [{ opType: 'MatMul', input: ['x', 'W'], output: ['y'] }],
      initializer: [{ name: 'W', dims: [2, 2], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [1, 2, 3, 4] }],
      input: [info('x', ['N', 'K'])],
      output: [info('y', ['N', 2])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** `y = Identity(x)` over x[N,2] of the given ONNX element type (or of unknown shape). */
function identity(elemType: number, knownShape = true): Uint8Array {
  const { onnx } = onnxProto;
  const shape = knownShape ? { shape: { dim: [{ dimParam: 'N' }, { dimValue: 2 }] } } : {};
  const info = (name: string) => ({ name, type: { tensorType: { elemType, ...shape } } });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'identity', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }], input: [info('x')], output: [info('y')] },
  });
  return onnx.ModelProto.encode(model).finish();
}

const setosa = [5.1, 3.5, 1.4, 0.2];
const virginica = [5.9, 3.0, 5.1, 1.8];

// y = 0.5 x0 - 1.25 x1 + 2 x2 + 0.1, the regression fixture's weights.
const expectedY = (x: number[]) => Math.fround(Math.fround(0.5 * x[0]! - 1.25 * x[1]! + 2 * x[2]!) + 0.1);

describe('OnnxPredictor', () => {
  let iris: OnnxPredictor;
  let reg: OnnxPredictor;
  let two: OnnxPredictor;
  let fixed: OnnxPredictor;

  beforeAll(async () => {
    iris = await OnnxPredictor.create(irisClassifier(), { name: 'iris', version: 3 });
    reg = await OnnxPredictor.create(regression(), { name: 'reg', version: 1 });
    two = await OnnxPredictor.create(twoInput());
    fixed = await OnnxPredictor.create(fixedBatchRegression());
  });
  afterAll(async () => {
    await Promise.all([iris, reg, two, fixed].map((p) => p.dispose()));
  });

  it('reads the signature from the session', () => {
    expect(iris.signature).toEqual({
      inputs: [{ name: 'input', type: 'float32', shape: ['N', 4] }],
      outputs: [
        { name: 'label', type: 'int64', shape: ['N'] },
        { name: 'probabilities', type: 'float32', shape: ['N', 3] },
      ],
    });
    expect(fixed.signature.inputs[0]?.shape).toEqual([1, 3]);
  });

  describe('input forms', () => {
    it('number[] is one row; int64 labels come back as numbers', async () => {
      const out = await iris.predict(virginica);
      expect(out.label).toEqual({ data: [2], dims: [1], type: 'int64' });
      expect(out.probabilities?.dims).toEqual([1, 3]);
      expect(out.probabilities?.data).toBeInstanceOf(Float32Array);
      const p = Array.from(out.probabilities!.data as Float32Array);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(p[2]).toBeGreaterThan(p[0]!);
    });

    it('number[][] is rows', async () => {
      const out = await iris.predict([setosa, virginica]);
      expect(out.label).toEqual({ data: [0, 2], dims: [2], type: 'int64' });
      const y = await reg.predict([
        [1, 2, 3],
        [0, 0, 0],
      ]);
      expect(y.y?.dims).toEqual([2, 1]);
      expect(Array.from(y.y!.data as Float32Array)).toEqual([expectedY([1, 2, 3]), expectedY([0, 0, 0])]);
    });

    it('a typed array with explicit dims is used without a copy; another type is converted', async () => {
      const data = new Float32Array([1, 2, 3, 4, 5, 6]);
      const same = await reg.predict({ data, dims: [2, 3] });
      expect(Array.from(same.y!.data as Float32Array)).toEqual([expectedY([1, 2, 3]), expectedY([4, 5, 6])]);
      const converted = await reg.predict({ data: new Float64Array([1, 2, 3, 4, 5, 6]), dims: [2, 3] });
      expect(converted.y!.data).toEqual(same.y!.data);
      const flat = await reg.predict({ data: [1, 2, 3], dims: [1, 3] });
      expect(Array.from(flat.y!.data as Float32Array)).toEqual([expectedY([1, 2, 3])]);
    });

    it('a bare typed array is one row', async () => {
      const out = await iris.predict(new Float32Array(virginica));
      expect(out.label?.data).toEqual([2]);
    });

    it('a Record<inputName, …> feeds a multi-input model, with any form per input', async () => {
      const out = await two.predict({ a: [1, 2], b: { data: new Float32Array([3, 4]), dims: [1, 2] } });
      expect(Array.from(out.sum!.data as Float32Array)).toEqual([4, 6]);
      expect(Array.from(out.product!.data as Float32Array)).toEqual([3, 8]);
      const rows = await two.predict({
        a: [
          [1, 1],
          [2, 2],
        ],
        b: [
          [3, 3],
          [4, 4],
        ],
      });
      expect(rows.sum?.dims).toEqual([2, 2]);
      expect(Array.from(rows.product!.data as Float32Array)).toEqual([3, 3, 8, 8]);
      const single = await iris.predict({ input: [virginica] });
      expect(single.label?.data).toEqual([2]);
    });

    it('an onnxruntime Tensor passes through', async () => {
      const tensor = new Tensor('float32', new Float32Array([...setosa, ...virginica]), [2, 4]);
      const out = await iris.predict(tensor);
      expect(out.label?.data).toEqual([0, 2]);
      const fixedOut = await fixed.predict(new Tensor('float32', new Float32Array([1, 2, 3]), [1, 3]));
      expect(Array.from(fixedOut.y!.data as Float32Array)).toEqual([expectedY([1, 2, 3])]);
    });

    it('a model with a fixed batch of 1 takes one row', async () => {
      const out = await fixed.predict([1, 2, 3]);
      expect(out.y?.dims).toEqual([1, 1]);
    });
  });

  it('checks a Tensor or typed { data, dims } of the model\'s type for type and dims only: its values go to the model as they are', async () => {
    const nan = new Float32Array([1, 2, Number.NaN, 4]);
    // What the model makes of them is served only with the output check off; by default the NaN
    // probabilities are refused (issue 13, defect 10), and since the NaN was the caller's, as the
    // caller's InputShapeError, found by one scan of the inputs on that failure path.
    const unchecked = await OnnxPredictor.create(irisClassifier(), { checkFiniteOutputs: false });
    for (const input of [new Tensor('float32', nan, [1, 4]), { data: nan, dims: [1, 4] }]) {
      const out = await unchecked.predict(input);
      expect(out.probabilities?.dims).toEqual([1, 3]);
      expect(Array.from(out.probabilities!.data as Float32Array).every(Number.isNaN)).toBe(true);
      await expect(iris.predict(input)).rejects.toThrow(/^model 'iris' v3: expected 'input' float32\[N,4\] with finite values, got number NaN at index 2; a non-finite input/);
    }
    await unchecked.dispose();
    // The same values as a number[] or a float64 typed array are converted, and so checked one by one.
    await expect(iris.predict(Array.from(nan))).rejects.toThrow(/with finite numbers in float32 range, got number NaN at index 2/);
    await expect(iris.predict({ data: Float64Array.from(nan), dims: [1, 4] })).rejects.toThrow(/got number NaN at index 2/);
  });

  describe('validation before running → InputShapeError naming the input, expected vs given', () => {
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      ['wrong element count', () => iris.predict([1, 2, 3]), /^model 'iris' v3: expected 'input' float32\[N,4\], got 3 values$/],
      ['ragged rows', () => iris.predict([setosa, [1, 2]]), /^model 'iris' v3: expected 'input' float32\[N,4\], got \[1\] \(depth 2\) with 2 values, expected 4 \(dims \[2,4\]\)$/],
      ['wrong rank', () => iris.predict({ data: new Float32Array(4), dims: [1, 2, 2] }), /expected 'input' float32\[N,4\], got float32\[1,2,2\] \(rank 3, expected rank 2\)/],
      ['wrong fixed dim', () => iris.predict({ data: new Float32Array(6), dims: [2, 3] }), /expected 'input' float32\[N,4\], got float32\[2,3\]/],
      ['data length vs dims', () => iris.predict({ data: new Float32Array(7), dims: [2, 4] }), /got 7 values for dims \[2,4\] \(8 values\)/],
      ['NaN', () => iris.predict([1, Number.NaN, 3, 4]), /expected 'input' float32\[N,4\] with finite numbers in float32 range, got number NaN at index 1/],
      ['beyond float32', () => iris.predict([1, 1e39, 3, 4]), /with finite numbers in float32 range, got number 1e\+39 at index 1/],
      ['Infinity in rows', () => iris.predict([setosa, [1, 2, Infinity, 4]]), /with finite numbers in float32 range, got number Infinity at row 1, column 2/],
      ['a string among numbers', () => iris.predict([1, 2, '3' as unknown as number, 4]), /with finite numbers in float32 range, got string "3" at index 2/],
      ['empty batch (no rows)', () => iris.predict([]), /expected 'input' float32\[N,4\], got an empty array \(no rows\)/],
      ['empty batch (dims)', () => iris.predict({ data: new Float32Array(0), dims: [0, 4] }), /got float32\[0,4\] \(an empty batch\)/],
      ['wrong input name', () => iris.predict({ x: [setosa] } as never), /expected inputs 'input', got unknown input 'x'/],
      ['missing input', () => two.predict({ a: [1, 2] }), /expected inputs 'a', 'b', got no value for 'b'/],
      ['multi-input model given a bare array', () => two.predict([1, 2]), /expected a record of inputs 'a', 'b', got array of length 2/],
      ['inputs disagree on the batch', () => two.predict({ a: [[1, 2], [3, 4]], b: [[1, 2]] }), /'b' float32\[N,2\], got 1 rows while 'a' float32\[N,2\] has 2/],
      ['a Tensor of the wrong type', () => iris.predict(new Tensor('int32', new Int32Array(4), [1, 4])), /expected 'input' float32\[N,4\], got a int32 Tensor/],
      ['fixed batch of 1 given 2 rows', () => fixed.predict([[1, 2, 3], [4, 5, 6]]), /^expected 'x' float32\[1,3\], got 2 rows \(the model's batch size is fixed\)$/],
      ['not an input at all', () => iris.predict(42 as never), /expected 'input' float32\[N,4\], got number 42/],
      ['null', () => iris.predict(null as never), /expected 'input' float32\[N,4\], got null/],
    ];
    it.each(cases)('%s', async (_name, run, message) => {
      const error = await run().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InputShapeError);
      expect((error as InputShapeError).code).toBe('INPUT_SHAPE');
      expect((error as Error).message).toMatch(message);
    });
  });

  it('wraps an error thrown by onnxruntime with the model name and version', async () => {
    // x float32[N,K] · W[2,2]: K is symbolic, so validation lets 3 columns through and
    // onnxruntime itself refuses them.
    const loose = await OnnxPredictor.create(symbolicInnerMatMul(), { name: 'loose', version: 7 });
    const error = await loose.predict([1, 2, 3]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InferenceError);
    expect((error as Error).message).toMatch(/^model 'loose' v7: onnxruntime failed to run the model: /);
    expect((error as Error).cause).toBeInstanceOf(Error);
    await expect(loose.predict([1, 2])).resolves.toMatchObject({ y: { dims: [1, 2] } });
    await loose.dispose();
  });

  it('rejects a disposed predictor and an aborted signal with named errors', async () => {
    const p = await OnnxPredictor.create(regression());
    const controller = new AbortController();
    controller.abort();
    await expect(p.predict([1, 2, 3], { signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
    await p.dispose();
    await p.dispose();
    await expect(p.predict([1, 2, 3])).rejects.toBeInstanceOf(InvalidStateError);
  });

  it('a signal aborted while the model runs rejects with AbortedError and drops the result', async () => {
    const controller = new AbortController();
    const running = reg.predict([1, 2, 3], { signal: controller.signal });
    controller.abort();
    await expect(running).rejects.toThrow(/^model 'reg' v1: prediction aborted$/);
  });

  it('dispose waits for a running prediction', async () => {
    const p = await OnnxPredictor.create(regression());
    const running = p.predict([1, 2, 3]);
    const disposed = p.dispose();
    await expect(running).resolves.toMatchObject({ y: { dims: [1, 1] } });
    await disposed;
  });

  describe('create', () => {
    it('turns bytes onnxruntime cannot load into ModelLoadError naming the model', async () => {
      const error = await OnnxPredictor.create(brokenModel(), { name: 'iris', version: 4 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelLoadError);
      expect((error as Error).message).toMatch(/^model 'iris' v4: onnxruntime could not load the model: /);
    });

    it('loads from a file path and fetches only the outputs asked for', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'predict-'));
      try {
        const file = join(dir, 'iris.onnx');
        await writeFile(file, irisClassifier());
        const p = await OnnxPredictor.create(file, {
          outputs: ['label'],
          intraOpNumThreads: 1,
          interOpNumThreads: 1,
          executionProviders: ['cpu'],
          sessionOptions: { graphOptimizationLevel: 'all' },
        });
        expect(Object.keys(await p.predict(virginica))).toEqual(['label']);
        await p.dispose();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('checks its options up front, naming the option', async () => {
      await expect(OnnxPredictor.create(42 as never)).rejects.toThrow(/source must be a Uint8Array or a file path, got number 42/);
      await expect(OnnxPredictor.create(irisClassifier(), { outputs: ['nope'] })).rejects.toThrow(
        /outputs must name outputs of the model \('label', 'probabilities'\), got 'nope'/,
      );
      await expect(OnnxPredictor.create(irisClassifier(), { intraOpNumThreads: -1 })).rejects.toBeInstanceOf(ValidationError);
      await expect(OnnxPredictor.create(irisClassifier(), { outputs: [] })).rejects.toThrow(/outputs must be a non-empty array/);
      await expect(OnnxPredictor.create('/no/such/model.onnx')).rejects.toBeInstanceOf(ModelLoadError);
    });
  });

  describe('toPrediction', () => {
    it('answers { prediction, probabilities } for a label + probabilities classifier', async () => {
      const out = await iris.predict([setosa, virginica]);
      const first = toPrediction(out);
      expect(first.prediction).toBe(0);
      expect(first.probabilities).toHaveLength(3);
      expect(toPrediction(out, { row: 1 })).toMatchObject({ prediction: 2 });
      expect(toPrediction(out, { probabilities: false })).toEqual({ prediction: 0 });
      expect(JSON.parse(JSON.stringify(toPrediction(out, { row: 1, probabilities: false })))).toEqual({ prediction: 2 });
    });

    it('answers { prediction } for a one-output regression', async () => {
      expect(toPrediction(await reg.predict([1, 2, 3]))).toEqual({ prediction: expectedY([1, 2, 3]) });
      const sums = toPrediction(await two.predict({ a: [1, 2], b: [3, 4] }), { probabilities: false });
      expect(sums).toEqual({ prediction: [4, 6] });
    });

    it('names a bad option', async () => {
      const out = await iris.predict(setosa);
      expect(() => toPrediction(out, { label: 'nope' })).toThrow(/label must name an output \('label', 'probabilities'\), got nope/);
      expect(() => toPrediction(out, { row: 1 })).toThrow(/row must be an integer in \[0, 0\] for output 'label', got 1/);
      expect(() => toPrediction(out, { probabilities: 'nope' })).toThrow(ValidationError);
    });
  });

  it('every error it throws is a ModelRolloutError with a stable code', async () => {
    const error = await iris.predict([1]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelRolloutError);
  });
});

describe('other element types', () => {
  const { DataType } = onnxProto.onnx.TensorProto;

  it('int64 takes safe integers and bigints, refuses fractions', async () => {
    const p = await OnnxPredictor.create(identity(DataType.INT64));
    expect((await p.predict([[1, -2], [3n as unknown as number, 4]])).y).toEqual({ data: [1, -2, 3, 4], dims: [2, 2], type: 'int64' });
    await expect(p.predict([1.5, 2])).rejects.toThrow(/expected 'x' int64\[N,2\] with safe integers or bigints, got number 1.5 at index 0/);
    await p.dispose();
  });

  it('int32 takes integers in range; bool takes booleans or 0/1; string takes strings', async () => {
    const int32 = await OnnxPredictor.create(identity(DataType.INT32));
    expect(Array.from((await int32.predict([7, -7])).y!.data as Int32Array)).toEqual([7, -7]);
    await expect(int32.predict([2 ** 31, 0])).rejects.toThrow(/with integers in \[-2147483648, 2147483647\], got number 2147483648 at index 0/);
    const bool = await OnnxPredictor.create(identity(DataType.BOOL));
    expect(Array.from((await bool.predict([true, false])).y!.data as Uint8Array)).toEqual([1, 0]);
    expect(Array.from((await bool.predict([0, 1])).y!.data as Uint8Array)).toEqual([0, 1]);
    await expect(bool.predict([2, 0])).rejects.toThrow(/with booleans or 0\/1, got number 2 at index 0/);
    const text = await OnnxPredictor.create(identity(DataType.STRING));
    expect((await text.predict([['a', 'b'], ['c', 'd']])).y).toEqual({ data: ['a', 'b', 'c', 'd'], dims: [2, 2], type: 'string' });
    await expect(text.predict(['a', 1 as unknown as string])).rejects.toThrow(/with strings, got number 1 at index 1/);
    await Promise.all([int32, bool, text].map((q) => q.dispose()));
  });
});

describe('inputs of unknown shape', () => {
  it('take rows and flat arrays as given; onnxruntime checks the rest', async () => {
    const p = await OnnxPredictor.create(identity(onnxProto.onnx.TensorProto.DataType.FLOAT, false));
    expect(p.signature.inputs[0]?.shape).toEqual([]);
    expect((await p.predict([[1, 2, 3], [4, 5, 6]])).y?.dims).toEqual([2, 3]);
    expect((await p.predict([1, 2])).y?.dims).toEqual([2]);
    await expect(p.predict([[1, 2], [3]])).rejects.toThrow(/got \[1\] \(depth 2\) with 1 values, expected 2 \(dims \[2,2\]\)/);
    await p.dispose();
  });
});

describe('outputs', () => {
  it('int64 data becomes numbers when every value is safe, and stays bigint otherwise', () => {
    const safe = new Tensor('int64', BigInt64Array.from([2n, -9007199254740991n]), [2]);
    const unsafe = new Tensor('int64', BigInt64Array.from([1n, 9007199254740992n]), [2]);
    const huge = new Tensor('uint64', BigUint64Array.from([18446744073709551615n]), [1]);
    const out = toOutputs({ safe, unsafe, huge }, ['safe', 'unsafe', 'huge']);
    expect(out.safe).toEqual({ data: [2, -9007199254740991], dims: [2], type: 'int64' });
    expect(out.unsafe?.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(out.unsafe!.data as BigInt64Array)).toEqual([1n, 9007199254740992n]);
    expect(out.huge?.data).toBeInstanceOf(BigUint64Array);
  });
});
