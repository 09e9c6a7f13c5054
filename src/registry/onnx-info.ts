import { open } from 'node:fs/promises';
import { ModelLoadError } from '../errors.js';
import { fileFields, mappedModel, readRange } from './onnx-file.js';
import { readSignature, type ModelSignature } from './signature.js';

/** What an ONNX artifact says of itself (the `ModelProto` header fields). */
export interface OnnxModelInfo {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  /** `ModelProto.domain`, often empty. */
  domain: string;
  /** `ModelProto.model_version`, 0 when unset. */
  modelVersion: number;
  /** Operator sets the graph uses; the default domain is `''` (`ai.onnx`). */
  opsetImports: Array<{ domain: string; version: number }>;
  /** `ModelProto.metadata_props` as a plain object. */
  metadata: Record<string, string>;
}

/** Which runtime opened and checked an artifact when it was registered. */
export interface ValidatedBy {
  runtime: 'onnxruntime-node';
  version: string;
}

/** The result of opening an artifact with onnxruntime. @internal */
export interface OnnxInspection {
  signature: ModelSignature;
  onnx: OnnxModelInfo;
  validatedBy: ValidatedBy;
}

/**
 * Opens `source` (bytes, or a file path, whose large initializers onnxruntime then maps from the
 * file, see {@link mappedModel}) with onnxruntime-node
 * (which checks the graph, types and operators), reads the
 * signature, then reads the model header with a small protobuf reader (onnxruntime does not expose
 * producer or opset fields). onnxruntime is imported lazily, so hosts that only use storage never
 * load the native binding.
 *
 * @throws ModelLoadError when onnxruntime cannot load the bytes.
 * @internal
 */
export async function inspectOnnx(source: Uint8Array | string, label: string): Promise<OnnxInspection> {
  const ort = await import('onnxruntime-node');
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    // Validation never runs the model: packing weights for faster kernels (a second copy of
    // every MatMul weight) would only cost memory.
    const options = { extra: { session: { disable_prepacking: '1' } } };
    if (typeof source === 'string') {
      const mapped = await mappedModel(source, options, label);
      session = mapped ? await ort.InferenceSession.create(mapped.bytes, mapped.options) : await ort.InferenceSession.create(source, options);
    } else {
      session = await ort.InferenceSession.create(source, options);
    }
  } catch (err) {
    throw new ModelLoadError(
      `${label} is not a loadable ONNX model (onnxruntime-node ${ort.env.versions.node ?? ''}): ${(err as Error).message}`,
      { cause: err },
    );
  }
  try {
    return {
      signature: readSignature(session),
      onnx: typeof source === 'string' ? await readOnnxHeaderFile(source, label) : readOnnxHeader(source, label),
      validatedBy: { runtime: 'onnxruntime-node', version: ort.env.versions.node ?? 'unknown' },
    };
  } finally {
    await session.release();
  }
}

/**
 * {@link readOnnxHeader} of a model file, reading only the top-level fields other than the graph
 * (which it skips by its length), so a model of gigabytes costs a few small reads.
 * @internal
 */
export async function readOnnxHeaderFile(file: string, label = 'artifact'): Promise<OnnxModelInfo> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const parts: Uint8Array[] = [];
    for await (const field of fileFields(handle, 0, size, label)) {
      if (field.number !== GRAPH_FIELD) parts.push(await readRange(handle, field.start, field.end));
    }
    return readOnnxHeader(Buffer.concat(parts), label);
  } finally {
    await handle.close();
  }
}

const GRAPH_FIELD = 7;

/** Reads the `ModelProto` header fields from serialized ONNX bytes (protobuf wire format). @internal */
export function readOnnxHeader(bytes: Uint8Array, label = 'artifact'): OnnxModelInfo {
  const info: OnnxModelInfo = {
    irVersion: 0,
    producerName: '',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    opsetImports: [],
    metadata: {},
  };
  const decoder = new TextDecoder();
  for (const field of protobufFields(bytes, label)) {
    switch (field.number) {
      case 1:
        info.irVersion = field.varint;
        break;
      case 2:
        info.producerName = decoder.decode(field.bytes);
        break;
      case 3:
        info.producerVersion = decoder.decode(field.bytes);
        break;
      case 4:
        info.domain = decoder.decode(field.bytes);
        break;
      case 5:
        info.modelVersion = field.varint;
        break;
      case 8: {
        const opset = { domain: '', version: 0 };
        for (const f of protobufFields(field.bytes, label)) {
          if (f.number === 1) opset.domain = decoder.decode(f.bytes);
          if (f.number === 2) opset.version = f.varint;
        }
        info.opsetImports.push(opset);
        break;
      }
      case 14: {
        let key = '';
        let value = '';
        for (const f of protobufFields(field.bytes, label)) {
          if (f.number === 1) key = decoder.decode(f.bytes);
          if (f.number === 2) value = decoder.decode(f.bytes);
        }
        info.metadata[key] = value;
        break;
      }
    }
  }
  return info;
}

/** One field of a protobuf message, with where it lies in the buffer. @internal */
export interface WireField {
  number: number;
  /** Wire type: 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit. */
  wire: number;
  /** The value of a varint field as a number (exact below 2^53), 0 otherwise. */
  varint: number;
  /** The payload of a length-delimited field; the raw bytes of any other. */
  bytes: Uint8Array;
  /** Offsets of the whole field (tag included) in the buffer, so a rewriter can copy it as is. */
  start: number;
  end: number;
}

/** Reads the fields of one protobuf message (wire format), in order. @internal */
export function* protobufFields(buf: Uint8Array, label: string): Generator<WireField> {
  let pos = 0;
  const fail = (): never => {
    throw new ModelLoadError(`${label} is not a well-formed ONNX ModelProto (protobuf error at byte ${pos})`);
  };
  const varint = (): number => {
    let value = 0;
    for (let scale = 1, i = 0; i < 10; i++, scale *= 128) {
      if (pos >= buf.length) fail();
      const byte = buf[pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
    }
    return fail();
  };
  while (pos < buf.length) {
    const start = pos;
    const tag = varint();
    const number = Math.floor(tag / 8);
    const wire = tag % 8;
    switch (wire) {
      case 0: {
        const at = pos;
        const value = varint();
        yield { number, wire, varint: value, bytes: buf.subarray(at, pos), start, end: pos };
        break;
      }
      case 1:
      case 5: {
        const at = pos;
        pos += wire === 1 ? 8 : 4;
        if (pos > buf.length) fail();
        yield { number, wire, varint: 0, bytes: buf.subarray(at, pos), start, end: pos };
        break;
      }
      case 2: {
        const length = varint();
        if (pos + length > buf.length) fail();
        const at = pos;
        pos += length;
        yield { number, wire, varint: 0, bytes: buf.subarray(at, pos), start, end: pos };
        break;
      }
      default:
        fail();
    }
  }
}
