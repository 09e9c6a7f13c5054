/**
 * model-rollout: ship machine-learning model versions safely from a Node service.
 *
 * @module model-rollout
 */
export * from './errors.js';
export type { Clock, RandomSource } from './options.js';
export type { Logger, LogLevel } from './logger.js';
export * from './storage/index.js';
export * from './registry/index.js';
export * from './predict/index.js';
export * from './routing/index.js';
export * from './stats/index.js';
export * from './monitor/index.js';
export * from './router.js';
export * from './analysis/index.js';
