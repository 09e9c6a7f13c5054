/**
 * Test helpers: a fake clock, a seeded random source, the storage conformance suite and
 * rollout simulation.
 *
 * @packageDocumentation
 */
export { FakeClock, type FakeTimer } from './fake-clock.js';
export { seededRandom } from './seeded-random.js';
