/**
 * Predictors: ONNX Runtime sessions, plain functions, dynamic micro-batching and a pool that
 * loads each model version once.
 *
 * @module
 */
export type {
  Predictor,
  PredictInput,
  PredictOutput,
  PredictOptions,
  TensorInput,
  NestedArray,
  TensorData,
  NumericArray,
  OutputTensor,
  OutputData,
} from './types.js';
export { OnnxPredictor, type OnnxPredictorOptions } from './onnx-predictor.js';
export { FunctionPredictor, type FunctionPredictorOptions } from './function-predictor.js';
export { BatchingPredictor, type BatchingOptions, type BatchingTimers, type ResolvedBatchingOptions } from './batching-predictor.js';
export {
  PredictorPool,
  PooledPredictor,
  type PredictorPoolOptions,
  type PredictorPoolEvents,
  type PoolRegistry,
  type PoolVersion,
  type WarmUpOptions,
} from './predictor-pool.js';
export { toPrediction, type Prediction, type PredictionOptions, type PredictionValue } from './outputs.js';
export { toJSONOutput, type JsonOutputTensor, type JsonPredictOutput } from './json-output.js';
