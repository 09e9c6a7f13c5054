/**
 * Reading ONNX model files without reading them whole: protobuf fields found by positioned reads
 * (large payloads skipped by their length), and a served copy of a model whose large initializers
 * point at the file itself as external data, so onnxruntime maps them from the file instead of
 * parsing a copy of them into memory (measured: a 1 GiB initializer costs ~0 MiB of RSS until it
 * is touched, against 2× the model when the session is created from the path).
 *
 * @module
 */
import { open, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { ModelLoadError } from '../errors.js';
import { lengthField, message, stringField, varintField } from './protobuf-writer.js';

/** Where one protobuf field of a file lies (absolute offsets). @internal */
export interface FileField {
  number: number;
  wire: number;
  /** Offset of the field's tag. */
  start: number;
  /** Offset of its payload (after tag and length). */
  payload: number;
  end: number;
}

// Field numbers of onnx.proto3.
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
const EXTERNAL = 1;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;

/** Initializers smaller than this stay inline: mapping them saves nothing worth a page. */
const MAP_FROM_BYTES = 1024 * 1024;

/** The fields of the message at `[start, end)` of a file, in order, read with one small read each. @internal */
export async function* fileFields(handle: FileHandle, start: number, end: number, label: string): AsyncGenerator<FileField> {
  const head = new Uint8Array(20);
  for (let pos = start; pos < end; ) {
    const { bytesRead } = await handle.read(head, 0, Math.min(head.length, end - pos), pos);
    let at = 0;
    const fail = (): never => {
      throw new ModelLoadError(`${label} is not a well-formed ONNX ModelProto (protobuf error at byte ${pos})`);
    };
    const varint = (): number => {
      let value = 0;
      for (let scale = 1; at < bytesRead; scale *= 128) {
        const byte = head[at++]!;
        value += (byte & 0x7f) * scale;
        if (byte < 0x80) return value;
      }
      return fail();
    };
    const tag = varint();
    const wire = tag % 8;
    let length = 0;
    if (wire === 2) length = varint();
    else if (wire === 0) varint();
    else if (wire === 1) length = 8;
    else if (wire === 5) length = 4;
    else fail();
    const payload = pos + at;
    const fieldEnd = payload + length;
    if (fieldEnd > end) fail();
    yield { number: Math.floor(tag / 8), wire, start: pos, payload, end: fieldEnd };
    pos = fieldEnd;
  }
}

/** The bytes of `[start, end)` of a file. @internal */
export async function readRange(handle: FileHandle, start: number, end: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(end - start);
  for (let at = 0; at < bytes.length; ) {
    const { bytesRead } = await handle.read(bytes, at, bytes.length - at, start + at);
    if (bytesRead === 0) break;
    at += bytesRead;
  }
  return bytes;
}

/** A model to create a session from in place of a file: its bytes and the session options that go with them. @internal */
export interface MappedModel {
  bytes: Uint8Array;
  options: InferenceSession.SessionOptions;
}

/**
 * A copy of the model file `file` in which every top-level initializer of at least 1 MiB held as
 * `raw_data` is instead external data pointing at its bytes in `file` itself (location, offset,
 * length), with session options telling onnxruntime the folder to find `file` in; the copy is
 * the model minus those bytes. `undefined` when the model has no such initializer (create the
 * session from the path as usual).
 * @internal
 */
export async function mappedModel(file: string, options: InferenceSession.SessionOptions, label: string): Promise<MappedModel | undefined> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const parts: Uint8Array[] = [];
    let mapped = 0;
    for await (const field of fileFields(handle, 0, size, label)) {
      if (field.number !== MODEL_GRAPH || field.wire !== 2) {
        parts.push(await readRange(handle, field.start, field.end));
        continue;
      }
      const graph: Uint8Array[] = [];
      for await (const g of fileFields(handle, field.payload, field.end, label)) {
        const tensor = g.number === GRAPH_INITIALIZER && g.wire === 2 && g.end - g.payload >= MAP_FROM_BYTES ? await externalTensor(handle, g, path.basename(file), label) : undefined;
        if (tensor) mapped++;
        graph.push(tensor ? lengthField(GRAPH_INITIALIZER, tensor) : await readRange(handle, g.start, g.end));
      }
      parts.push(lengthField(MODEL_GRAPH, message(graph)));
    }
    if (mapped === 0) return undefined;
    const extra = options.extra as { session?: Record<string, unknown> } | undefined;
    return {
      bytes: message(parts),
      options: {
        ...options,
        extra: { ...extra, session: { ...extra?.session, model_external_initializers_file_folder_path: path.dirname(path.resolve(file)) } },
      },
    };
  } finally {
    await handle.close();
  }
}

/** The TensorProto at `field` with its `raw_data` replaced by a reference to it in `location`; `undefined` when it has none. */
async function externalTensor(handle: FileHandle, field: FileField, location: string, label: string): Promise<Uint8Array | undefined> {
  const kept: Uint8Array[] = [];
  let raw: FileField | undefined;
  for await (const t of fileFields(handle, field.payload, field.end, label)) {
    if (t.number === TENSOR_RAW_DATA && t.wire === 2) raw = t;
    else if (t.number === TENSOR_DATA_LOCATION || t.number === TENSOR_EXTERNAL_DATA) return undefined;
    else kept.push(await readRange(handle, t.start, t.end));
  }
  if (raw === undefined) return undefined;
  const entry = (key: string, value: string) => lengthField(TENSOR_EXTERNAL_DATA, message([stringField(ENTRY_KEY, key), stringField(ENTRY_VALUE, value)]));
  return message([
    ...kept,
    varintField(TENSOR_DATA_LOCATION, EXTERNAL),
    entry('location', location),
    entry('offset', String(raw.payload)),
    entry('length', String(raw.end - raw.payload)),
  ]);
}
