/**
 * Writes an ONNX model of about `bytes` bytes without ever holding it in memory: one float32
 * initializer `W` [rows, 1024], read by a `Gather` (input `index` int64[N] → output `y`
 * float32[N,1024]: a prediction reads two rows however large the model), or with `op: 'matmul'`
 * by a `MatMul` (input `x` float32[N, rows] → `y` = x · W: every prediction reads every weight).
 * The small parts of the protobuf are encoded with onnx-proto; the initializer's `raw_data` is
 * streamed in chunks.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const { TensorProto } = onnx;
export const COLUMNS = 1024;

function varint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return out;
}

/** Tag and length of a length-delimited protobuf field. */
function header(field: number, length: number): Uint8Array {
  return Uint8Array.from([(field << 3) | 2, ...varint(length)]);
}

/** Writes the model to `file`; returns its size in bytes and the number of rows of `W`. */
export async function writeLargeModel(file: string, bytes: number, op: 'gather' | 'matmul' = 'gather'): Promise<{ size: number; rows: number }> {
  const rows = Math.max(1, Math.floor(bytes / (COLUMNS * 4)));
  const rawLength = rows * COLUMNS * 4;
  const tensorHead = TensorProto.encode({ name: 'W', dims: [rows, COLUMNS], dataType: TensorProto.DataType.FLOAT }).finish();
  const rawHead = header(9, rawLength); // TensorProto.raw_data
  const tensorLength = tensorHead.length + rawHead.length + rawLength;
  const graphHead = onnx.GraphProto.encode({
    name: 'large_gather',
    node:
      op === 'gather'
        ? [{ opType: 'Gather', input: ['W', 'index'], output: ['y'], attribute: [{ name: 'axis', type: 2, i: 0 }] }]
        : [{ opType: 'MatMul', input: ['x', 'W'], output: ['y'] }],
    input: [
      op === 'gather'
        ? { name: 'index', type: { tensorType: { elemType: TensorProto.DataType.INT64, shape: { dim: [{ dimParam: 'N' }] } } } }
        : { name: 'x', type: { tensorType: { elemType: TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: rows }] } } } },
    ],
    output: [
      {
        name: 'y',
        type: { tensorType: { elemType: TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: COLUMNS }] } } },
      },
    ],
  }).finish();
  const initializerHead = header(5, tensorLength); // GraphProto.initializer
  const graphLength = graphHead.length + initializerHead.length + tensorLength;
  const modelHead = onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'model-rollout-bench',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: 17 }],
  }).finish();
  const graphField = header(7, graphLength); // ModelProto.graph

  const out = createWriteStream(file);
  const write = async (chunk: Uint8Array): Promise<void> => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
  for (const part of [modelHead, graphField, graphHead, initializerHead, tensorHead, rawHead]) await write(part);
  const chunkFloats = 1 << 20;
  for (let written = 0; written < rawLength; ) {
    const floats = Math.min(chunkFloats, (rawLength - written) / 4);
    const chunk = new Float32Array(floats);
    const first = written / 4;
    for (let i = 0; i < floats; i++) chunk[i] = ((first + i) % 4099) / 4099;
    await write(new Uint8Array(chunk.buffer));
    written += floats * 4;
  }
  out.end();
  await once(out, 'finish');
  return { size: modelHead.length + graphField.length + graphLength, rows };
}
