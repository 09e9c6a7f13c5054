import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../../src/errors.js';
import { readOnnxHeader } from '../../src/registry/onnx-info.js';
import { irisClassifier, regression } from '../fixtures/onnx-models.js';

const { onnx } = onnxProto;

/** The same fields, read by onnx-proto's generated protobufjs decoder (the reference). */
function decodedByOnnxProto(bytes: Uint8Array) {
  const model = onnx.ModelProto.decode(bytes);
  return {
    irVersion: Number(model.irVersion),
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    domain: model.domain,
    modelVersion: Number(model.modelVersion),
    opsetImports: model.opsetImport.map((o) => ({ domain: o.domain ?? '', version: Number(o.version) })),
    metadata: Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value])),
  };
}

describe('readOnnxHeader', () => {
  it('reads what onnx-proto reads from the fixture models', () => {
    for (const bytes of [irisClassifier({ producerVersion: '2.0.1' }), regression()]) {
      expect(readOnnxHeader(bytes)).toEqual(decodedByOnnxProto(bytes));
    }
  });

  it('reads domain, model version, metadata and multi-byte varints, skipping the graph and doc string', () => {
    const bytes = onnx.ModelProto.encode(
      onnx.ModelProto.create({
        irVersion: 10,
        producerName: 'skl2onnx',
        producerVersion: '1.17.0',
        domain: 'ai.example',
        modelVersion: 2 ** 40 + 7,
        docString: 'x'.repeat(300),
        opsetImport: [{ domain: '', version: 21 }, { domain: 'ai.onnx.ml', version: 300 }],
        metadataProps: [{ key: 'author', value: 'ünïcode' }, { key: 'license', value: 'MIT' }],
        graph: { name: 'g', node: [{ opType: 'Identity', input: ['a'], output: ['b'] }] },
      }),
    ).finish();
    const header = readOnnxHeader(bytes);
    expect(header).toEqual(decodedByOnnxProto(bytes));
    expect(header.modelVersion).toBe(2 ** 40 + 7);
    expect(header.metadata).toEqual({ author: 'ünïcode', license: 'MIT' });
  });

  it('reports truncated bytes as ModelLoadError', () => {
    const bytes = irisClassifier();
    expect(() => readOnnxHeader(bytes.subarray(0, bytes.length - 5))).toThrow(ModelLoadError);
  });
});
