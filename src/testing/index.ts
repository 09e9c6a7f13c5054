/**
 * Test helpers: a fake clock, a seeded random source, the storage conformance suite, a
 * fault-injecting storage wrapper and rollout simulation.
 *
 * @module model-rollout/testing
 */
export { FakeClock, type FakeTimer } from './fake-clock.js';
export { seededRandom } from './seeded-random.js';
export { FaultyStorage, type FaultyStorageOptions, type StorageCall, type StorageFault, type StorageOperation } from './faulty-storage.js';
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
