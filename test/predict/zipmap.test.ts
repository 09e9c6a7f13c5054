import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchingPredictor,
  MemoryStorage,
  ModelRegistry,
  ModelRouter,
  OnnxPredictor,
  StaticPolicy,
  ValidationError,
  toPrediction,
} from '../../src/index.js';
import { unzipMaps } from '../../src/predict/zipmap.js';
import { fruitClassifier, sklearnClassifier, sklearnIris } from '../fixtures/onnx-models.js';

const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.0, 2.9, 4.5, 1.5],
  [6.3, 3.3, 6.0, 2.5],
];

describe.each([
  ['int64 labels', 'int', [0, 1, 2]],
  ['string labels', 'string', ['setosa', 'versicolor', 'virginica']],
] as const)('a skl2onnx ZipMap classifier with %s', (_name, kind, labels) => {
  let zipped: OnnxPredictor;
  let plain: OnnxPredictor;

  beforeAll(async () => {
    zipped = await OnnxPredictor.create(sklearnIris(kind), { name: 'zip', version: 1 });
    plain = await OnnxPredictor.create(sklearnIris(kind, false));
  });
  afterAll(() => Promise.all([zipped.dispose(), plain.dispose()]));

  it('serves the ZipMap output as its probability tensor, under the same name, with the class labels', async () => {
    expect(zipped.signature.outputs).toEqual([
      { name: 'output_label', type: kind === 'int' ? 'int64' : 'string', shape: ['N'] },
      { name: 'output_probability', type: 'float32', shape: ['N', 3] },
    ]);
    const out = await zipped.predict(ROWS);
    expect(out.output_probability?.dims).toEqual([3, 3]);
    expect(out.output_probability?.labels).toEqual(labels);
    expect(out.output_label?.data).toEqual(kind === 'int' ? [0, 1, 2] : ['setosa', 'versicolor', 'virginica']);
  });

  it('answers { prediction, probabilities, classes } equal to the same model exported with zipmap=False', async () => {
    const [a, b] = await Promise.all([zipped.predict(ROWS), plain.predict(ROWS)]);
    for (let row = 0; row < ROWS.length; row++) {
      const fromZipMap = toPrediction(a, { row });
      expect(fromZipMap.classes).toEqual(labels);
      const { classes, ...rest } = fromZipMap;
      expect(classes).toHaveLength(3);
      expect(rest).toEqual(toPrediction(b, { row }));
      expect(fromZipMap.prediction).toBe(labels[row]);
      expect(fromZipMap.probabilities!.reduce((s, p) => s + p)).toBeCloseTo(1, 5);
    }
  });

  it('batching keeps the labels on every caller\'s slice', async () => {
    const inner = await OnnxPredictor.create(sklearnIris(kind));
    const batching = new BatchingPredictor(inner, { maxBatchSize: 8, maxDelayMs: 5 });
    try {
      const answers = await Promise.all(ROWS.map((r) => batching.predict(r)));
      answers.forEach((out, row) => expect(toPrediction(out)).toMatchObject({ prediction: labels[row], classes: labels }));
    } finally {
      await batching.dispose();
    }
  });
});

describe('serving non-tensor outputs', () => {
  it('a model file path is rewritten the same way; the file on disk is untouched', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zipmap-'));
    try {
      const bytes = sklearnIris('int');
      const file = join(dir, 'model.onnx');
      await writeFile(file, bytes);
      const p = await OnnxPredictor.create(file);
      expect(toPrediction(await p.predict(ROWS[2]!))).toMatchObject({ prediction: 2, classes: [0, 1, 2] });
      await p.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the registry stores the artifact byte-identical and records the ZipMap output as non-tensor; the router serves it', async () => {
    const registry = new ModelRegistry({ storage: new MemoryStorage() });
    const bytes = sklearnIris('string');
    const before = createHash('sha256').update(bytes).digest('hex');
    const v = await registry.register('iris', bytes);
    expect(v.signature?.outputs[1]).toEqual({ name: 'output_probability', type: 'non-tensor', shape: [] });
    const router = new ModelRouter({ registry, model: 'iris', policy: new StaticPolicy({ version: v.version }) });
    try {
      const result = await router.predict([ROWS[0]!]);
      expect(toPrediction(result.output)).toMatchObject({ prediction: 'setosa', classes: ['setosa', 'versicolor', 'virginica'] });
      const stored = await registry.loadArtifact('iris', v.version);
      expect(createHash('sha256').update(stored).digest('hex')).toBe(before);
      expect(Buffer.from(stored).equals(Buffer.from(bytes))).toBe(true);
    } finally {
      await router.pool.dispose();
    }
  });

  it('string features in, string labels out, with and without a ZipMap', async () => {
    const zipped = await OnnxPredictor.create(fruitClassifier());
    const plain = await OnnxPredictor.create(fruitClassifier(false));
    const input = [
      ['green', 'large'],
      ['red', 'small'],
    ];
    const [a, b] = await Promise.all([zipped.predict(input), plain.predict(input)]);
    expect(a.output_label).toEqual({ data: ['apple', 'cherry'], dims: [2], type: 'string' });
    const { classes, ...rest } = toPrediction(a, { row: 1 });
    expect(classes).toEqual(['apple', 'cherry']);
    expect(rest).toEqual(toPrediction(b, { row: 1 }));
    await Promise.all([zipped.dispose(), plain.dispose()]);
  });

  it('naming a non-tensor output in `outputs` is a ValidationError; naming only tensor outputs still works', async () => {
    await expect(OnnxPredictor.create(sklearnIris('int'), { outputs: ['output_probability'] })).rejects.toThrow(
      /outputs must name tensor outputs \('output_label'\): onnxruntime-node cannot return the sequence or map 'output_probability'/,
    );
    const labelOnly = await OnnxPredictor.create(sklearnIris('int'), { outputs: ['output_label'] });
    expect(Object.keys(await labelOnly.predict(ROWS[0]!))).toEqual(['output_label']);
    await labelOnly.dispose();
  });

  it('other non-tensor outputs are left out of the default fetches; a model with none is refused', async () => {
    const { onnx } = onnxProto;
    const { FLOAT } = onnx.TensorProto.DataType;
    const tensor = { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: 2 }] } } };
    const build = (withTensor: boolean) =>
      onnx.ModelProto.encode({
        irVersion: 8,
        opsetImport: [{ domain: '', version: 17 }],
        graph: {
          name: 'sequence_out',
          node: [
            { opType: 'SequenceConstruct', input: ['x'], output: ['seq'] },
            ...(withTensor ? [{ opType: 'Identity', input: ['x'], output: ['y'] }] : []),
          ],
          input: [{ name: 'x', type: tensor }],
          output: [{ name: 'seq', type: { sequenceType: { elemType: { tensorType: { elemType: FLOAT } } } } }, ...(withTensor ? [{ name: 'y', type: tensor }] : [])],
        },
      }).finish();
    const p = await OnnxPredictor.create(build(true));
    expect(Object.keys(await p.predict([1, 2]))).toEqual(['y']);
    await p.dispose();
    const error = await OnnxPredictor.create(build(false), { name: 'seq', version: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toBe("model 'seq' v2: the model has no tensor output ('seq': sequences or maps, which onnxruntime-node cannot return)");
  });
});

describe('unzipMaps', () => {
  it('reads negative int64 labels and leaves a model without a ZipMap alone', () => {
    const bytes = sklearnClassifier({ labels: [-1, 0, 7], coefficients: [1, 0, 0, 1, 1, 1], intercepts: [0, 0, 0] });
    expect(unzipMaps(bytes, 'test')?.outputs).toEqual([{ output: 'output_probability', labels: [-1, 0, 7] }]);
    expect(unzipMaps(sklearnIris('int', false), 'test')).toBeUndefined();
  });
});
