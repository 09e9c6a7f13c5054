import { Tensor } from 'onnxruntime-node';
import type { ModelSignature } from '../registry/signature.js';
import { InputPlans } from './inputs.js';

/**
 * An input built from a signature for warming a model up: zeros (empty strings, `false`) of each
 * input's type, every symbolic dim taken as 1, so one row. `undefined` when the signature does not
 * say enough (no inputs, or an input whose type has no plain representation).
 */
export function signatureSample(signature: ModelSignature): Record<string, Tensor> | undefined {
  const { plans } = new InputPlans(signature, '');
  if (plans.length === 0) return undefined;
  const sample: Record<string, Tensor> = {};
  for (const plan of plans) {
    if (!plan.ctor) return undefined;
    const dims = plan.shape.map((d) => (typeof d === 'number' ? d : 1));
    let size = 1;
    for (const d of dims) size *= d;
    const data = plan.allocate(size);
    if (plan.type === 'string') (data as string[]).fill('');
    sample[plan.name] = new Tensor(plan.type as 'float32', data as Float32Array, dims);
  }
  return sample;
}
