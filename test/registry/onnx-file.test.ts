import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLargeModel } from '../../bench/large-model/generate.js';
import { readOnnxHeader, readOnnxHeaderFile } from '../../src/registry/onnx-info.js';
import { mappedModel } from '../../src/registry/onnx-file.js';
import { irisClassifier, sklearnIris } from '../fixtures/onnx-models.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mr-onnx-file-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('ONNX files read without reading them whole', () => {
  it('a large initializer is served as external data pointing into the file itself, with the same answers', async () => {
    const file = path.join(dir, 'large.onnx');
    const { size } = await writeLargeModel(file, 8 * 1024 * 1024);
    const mapped = await mappedModel(file, { intraOpNumThreads: 1 }, 'test');
    expect(mapped).toBeDefined();
    expect(mapped!.bytes.length).toBeLessThan(1024);
    expect(size).toBeGreaterThan(8_000_000);
    expect(mapped!.options).toMatchObject({ intraOpNumThreads: 1, extra: { session: { model_external_initializers_file_folder_path: dir } } });
    const index = new Tensor('int64', BigInt64Array.from([3n, 2000n]), [2]);
    const fromFile = await InferenceSession.create(file);
    const fromMapped = await InferenceSession.create(mapped!.bytes, mapped!.options);
    const [a, b] = await Promise.all([fromFile.run({ index }), fromMapped.run({ index })]);
    expect(Array.from(b.y!.data as Float32Array)).toEqual(Array.from(a.y!.data as Float32Array));
    await Promise.all([fromFile.release(), fromMapped.release()]);
  });

  it('a model without a large initializer is left to onnxruntime (undefined); headers read from a file equal those read from bytes', async () => {
    for (const bytes of [irisClassifier({ producerVersion: '7' }), sklearnIris('string')]) {
      const file = path.join(dir, 'small.onnx');
      await writeFile(file, bytes);
      expect(await mappedModel(file, {}, 'test')).toBeUndefined();
      expect(await readOnnxHeaderFile(file)).toEqual(readOnnxHeader(bytes));
    }
  });
});
