import { ModelLoadError } from '../errors.js';
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
 * Opens `bytes` with onnxruntime-node (which checks the graph, types and operators), reads the
 * signature, then reads the model header with a small protobuf reader (onnxruntime does not expose
 * producer or opset fields). onnxruntime is imported lazily, so hosts that only use storage never
 * load the native binding.
 *
 * @throws ModelLoadError when onnxruntime cannot load the bytes.
 * @internal
 */
export async function inspectOnnx(bytes: Uint8Array, label: string): Promise<OnnxInspection> {
  const ort = await import('onnxruntime-node');
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    session = await ort.InferenceSession.create(bytes);
  } catch (err) {
    throw new ModelLoadError(
      `${label} is not a loadable ONNX model (onnxruntime-node ${ort.env.versions.node ?? ''}): ${(err as Error).message}`,
      { cause: err },
    );
  }
  try {
    return {
      signature: readSignature(session),
      onnx: readOnnxHeader(bytes, label),
      validatedBy: { runtime: 'onnxruntime-node', version: ort.env.versions.node ?? 'unknown' },
    };
  } finally {
    await session.release();
  }
}

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
  for (const field of fields(bytes, label)) {
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
        for (const f of fields(field.bytes, label)) {
          if (f.number === 1) opset.domain = decoder.decode(f.bytes);
          if (f.number === 2) opset.version = f.varint;
        }
        info.opsetImports.push(opset);
        break;
      }
      case 14: {
        let key = '';
        let value = '';
        for (const f of fields(field.bytes, label)) {
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

interface WireField {
  number: number;
  varint: number;
  bytes: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function* fields(buf: Uint8Array, label: string): Generator<WireField> {
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
    const tag = varint();
    const number = Math.floor(tag / 8);
    switch (tag % 8) {
      case 0:
        yield { number, varint: varint(), bytes: EMPTY };
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const length = varint();
        if (pos + length > buf.length) fail();
        yield { number, varint: 0, bytes: buf.subarray(pos, pos + length) };
        pos += length;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        fail();
    }
  }
  if (pos > buf.length) fail();
}
