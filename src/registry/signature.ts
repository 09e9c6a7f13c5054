import type { InferenceSession } from 'onnxruntime-node';

/**
 * One input or output of a model, as onnxruntime reports it.
 *
 * `type` is the element type string onnxruntime uses (`'float32'`, `'int64'`, `'string'`, …), or
 * `'non-tensor'` for values that are not tensors (sequences and maps, e.g. a scikit-learn
 * `ZipMap` output). `shape` holds a number per fixed dimension and a string per symbolic one
 * (`['N', 4]`); an empty array means a scalar or, for non-tensors, an unknown shape.
 */
export interface TensorSpec {
  name: string;
  type: string;
  shape: Array<number | string>;
}

/** The inputs and outputs of a model, in the order the model declares them. */
export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** The part of an onnxruntime `InferenceSession` a signature is read from. */
export type SignatureSource = Pick<InferenceSession, 'inputMetadata' | 'outputMetadata'>;

function toSpec(meta: InferenceSession.ValueMetadata): TensorSpec {
  if (!meta.isTensor) return { name: meta.name, type: 'non-tensor', shape: [] };
  return { name: meta.name, type: meta.type, shape: [...meta.shape] };
}

/**
 * Reads the signature of a loaded model from its onnxruntime session.
 *
 * @example
 * ```ts
 * const session = await InferenceSession.create(bytes);
 * readSignature(session); // { inputs: [{ name: 'input', type: 'float32', shape: ['N', 4] }], outputs: [...] }
 * ```
 */
export function readSignature(session: SignatureSource): ModelSignature {
  return {
    inputs: session.inputMetadata.map(toSpec),
    outputs: session.outputMetadata.map(toSpec),
  };
}
