/**
 * Serving scikit-learn classifiers exported with a `ZipMap`: onnxruntime-node cannot return the
 * ZipMap's sequence of maps, but its input is the probability tensor. {@link unzipMaps} rewrites a
 * model's bytes (never the stored artifact: the copy a session is created from) so that each graph
 * output a ZipMap produces is that tensor instead, under the same output name, and returns the
 * class labels the ZipMap carried so outputs can name them.
 *
 * @module
 */
import { protobufFields, type WireField } from '../registry/onnx-info.js';
import { lengthField, message, stringField, varintField } from '../registry/protobuf-writer.js';

/** A graph output that a ZipMap produced and the served graph produces as a tensor. @internal */
export interface UnzippedOutput {
  /** The graph output's name (kept). */
  output: string;
  /** `classlabels_int64s` or `classlabels_strings` of the ZipMap, in probability-column order. */
  labels: number[] | string[];
}

/** The rewritten model and what it changed. @internal */
export interface UnzippedModel {
  bytes: Uint8Array;
  outputs: UnzippedOutput[];
}

// Field numbers of onnx.proto3.
const MODEL_GRAPH = 7;
const MODEL_OPSET_IMPORT = 8;
const OPSET_DOMAIN = 1;
const GRAPH_NODE = 1;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_NAME = 3;
const NODE_OP_TYPE = 4;
const NODE_ATTRIBUTE = 5;
const NODE_DOMAIN = 7;
const ATTRIBUTE_NAME = 1;
const ATTRIBUTE_INTS = 8;
const ATTRIBUTE_STRINGS = 9;
const VALUE_INFO_NAME = 1;
const VALUE_INFO_TYPE = 2;
const TYPE_TENSOR = 1;
const TENSOR_ELEM_TYPE = 1;
const TENSOR_SHAPE = 2;
const SHAPE_DIM = 1;
const DIM_VALUE = 1;
const FLOAT = 1;

const decoder = new TextDecoder();

/**
 * Returns `model` with every ZipMap whose output is a graph output replaced by an `Identity` of its
 * probability tensor, and that graph output declared as `float[batch, classes]` (the batch dim
 * copied from the first graph input); `undefined` when the model has no such ZipMap. Everything
 * else is copied byte for byte.
 */
export function unzipMaps(model: Uint8Array, label: string): UnzippedModel | undefined {
  const top = [...protobufFields(model, label)];
  const graphField = top.find((f) => f.number === MODEL_GRAPH && f.wire === 2);
  if (!graphField) return undefined;
  const graph = [...protobufFields(graphField.bytes, label)];
  const graphOutputs = new Set(graph.filter((f) => f.number === GRAPH_OUTPUT).map((f) => nameOf(f.bytes, VALUE_INFO_NAME, label)));

  const replacedNodes = new Map<WireField, Uint8Array>();
  const unzipped = new Map<string, string[] | number[]>();
  for (const field of graph) {
    if (field.number !== GRAPH_NODE) continue;
    const node = readNode(field.bytes, label);
    const output = node.outputs[0];
    const input = node.inputs[0];
    if (node.opType !== 'ZipMap' || node.domain !== 'ai.onnx.ml' || output === undefined || input === undefined || !graphOutputs.has(output)) continue;
    if (node.labels.length === 0) continue;
    unzipped.set(output, node.labels);
    replacedNodes.set(field, message([stringField(NODE_INPUT, input), stringField(NODE_OUTPUT, output), stringField(NODE_NAME, node.name), stringField(NODE_OP_TYPE, 'Identity')]));
  }
  if (unzipped.size === 0) return undefined;

  const batchDim = firstDimOf(graph.find((f) => f.number === GRAPH_INPUT), label);
  const parts: Uint8Array[] = [];
  for (const field of graph) {
    const node = replacedNodes.get(field);
    if (node) {
      parts.push(lengthField(GRAPH_NODE, node));
      continue;
    }
    const name = field.number === GRAPH_OUTPUT ? nameOf(field.bytes, VALUE_INFO_NAME, label) : undefined;
    const labels = name === undefined ? undefined : unzipped.get(name);
    if (name === undefined || labels === undefined) {
      parts.push(graphField.bytes.subarray(field.start, field.end));
      continue;
    }
    const dims = [batchDim ?? new Uint8Array(0), message([varintField(DIM_VALUE, labels.length)])];
    const shape = message(dims.map((d) => lengthField(SHAPE_DIM, d)));
    const tensorType = message([varintField(TENSOR_ELEM_TYPE, FLOAT), lengthField(TENSOR_SHAPE, shape)]);
    parts.push(lengthField(GRAPH_OUTPUT, message([stringField(VALUE_INFO_NAME, name), lengthField(VALUE_INFO_TYPE, message([lengthField(TYPE_TENSOR, tensorType)]))])));
  }
  const newGraph = message(parts);

  const modelParts: Uint8Array[] = [];
  for (const field of top) modelParts.push(field === graphField ? lengthField(MODEL_GRAPH, newGraph) : model.subarray(field.start, field.end));
  // Identity lives in the default domain; a graph of ai.onnx.ml operators only may not import it.
  const importsDefault = top.some((f) => f.number === MODEL_OPSET_IMPORT && f.wire === 2 && nameOf(f.bytes, OPSET_DOMAIN, label) === '');
  if (!importsDefault) modelParts.push(lengthField(MODEL_OPSET_IMPORT, message([varintField(2, 1)])));
  return { bytes: message(modelParts), outputs: [...unzipped].map(([output, labels]) => ({ output, labels })) };
}

interface NodeFields {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  /** `classlabels_int64s` or `classlabels_strings`, when the node has them. */
  labels: number[] | string[];
}

function readNode(bytes: Uint8Array, label: string): NodeFields {
  const node: NodeFields = { name: '', opType: '', domain: '', inputs: [], outputs: [], labels: [] };
  for (const f of protobufFields(bytes, label)) {
    if (f.wire !== 2) continue;
    if (f.number === NODE_INPUT) node.inputs.push(decoder.decode(f.bytes));
    else if (f.number === NODE_OUTPUT) node.outputs.push(decoder.decode(f.bytes));
    else if (f.number === NODE_NAME) node.name = decoder.decode(f.bytes);
    else if (f.number === NODE_OP_TYPE) node.opType = decoder.decode(f.bytes);
    else if (f.number === NODE_DOMAIN) node.domain = decoder.decode(f.bytes);
    else if (f.number === NODE_ATTRIBUTE) readLabels(f.bytes, label, node);
  }
  return node;
}

function readLabels(attribute: Uint8Array, label: string, node: NodeFields): void {
  const fields = [...protobufFields(attribute, label)];
  const name = nameOf(attribute, ATTRIBUTE_NAME, label);
  if (name === 'classlabels_strings') {
    node.labels = fields.filter((f) => f.number === ATTRIBUTE_STRINGS && f.wire === 2).map((f) => decoder.decode(f.bytes));
  } else if (name === 'classlabels_int64s') {
    const ints: number[] = [];
    for (const f of fields) {
      if (f.number !== ATTRIBUTE_INTS) continue;
      // Repeated int64s come packed (one length-delimited field) or one varint field each.
      if (f.wire === 0) ints.push(int64Of(f.bytes, 0).value);
      else if (f.wire === 2) for (let at = 0; at < f.bytes.length; ) {
        const next = int64Of(f.bytes, at);
        ints.push(next.value);
        at = next.end;
      }
    }
    node.labels = ints;
  }
}

/** Decodes one varint at `at` as a signed int64 (labels may be negative), as a number. */
function int64Of(bytes: Uint8Array, at: number): { value: number; end: number } {
  let raw = 0n;
  let shift = 0n;
  let pos = at;
  for (;;) {
    const byte = bytes[pos++] ?? 0;
    raw |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if (byte < 0x80 || pos >= bytes.length) break;
  }
  return { value: Number(BigInt.asIntN(64, raw)), end: pos };
}

/** The first string field `number` of a message (`''` when absent). */
function nameOf(bytes: Uint8Array, number: number, label: string): string {
  for (const f of protobufFields(bytes, label)) if (f.number === number && f.wire === 2) return decoder.decode(f.bytes);
  return '';
}

/** The raw `TensorShapeProto.Dimension` of dim 0 of a tensor ValueInfo, if it has one. */
function firstDimOf(valueInfo: WireField | undefined, label: string): Uint8Array | undefined {
  let current = valueInfo?.bytes;
  for (const number of [VALUE_INFO_TYPE, TYPE_TENSOR, TENSOR_SHAPE, SHAPE_DIM]) {
    if (current === undefined) return undefined;
    let found: Uint8Array | undefined;
    for (const f of protobufFields(current, label)) {
      if (f.number === number && f.wire === 2) {
        found = f.bytes;
        break;
      }
    }
    current = found;
  }
  return current;
}
