/**
 * Test helpers: a fake clock, a seeded random source, the storage conformance suite and
 * rollout simulation.
 *
 * @module model-rollout/testing
 */
export { FakeClock, type FakeTimer } from './fake-clock.js';
export { seededRandom } from './seeded-random.js';
export {
  testStorageAdapter,
  STORAGE_SUITE_GROUPS,
  type StorageSuiteGroup,
  type StorageSuiteOptions,
  type SuiteTest,
  type SuiteExpect,
} from './storage-suite.js';
export { simulate, type SimulateOptions, type Simulation, type SimulationStep, type SimulatedVersionStep, type SimulatedOutcome, type Analyzable } from './simulate.js';
export type { SimulatedResult } from './simulate.js';
