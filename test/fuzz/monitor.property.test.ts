import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeploymentMonitor, ModelRolloutError } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { anyValue, FUZZ_TIMEOUT_MS, mutated, RUNS } from './mutate.js';

function finiteStats(monitor: DeploymentMonitor): void {
  for (const version of monitor.versionsSeen) {
    const stats = monitor.stats(version, { window: 'lifetime' });
    for (const [field, value] of Object.entries(stats)) {
      if (typeof value === 'number') expect(Number.isFinite(value), `${String(version)}.${field} = ${value}`).toBe(true);
    }
    expect(stats.p50LatencyMs).toBeGreaterThanOrEqual(0);
    expect(Number.isSafeInteger(stats.totalRequests)).toBe(true);
  }
}

describe(`DeploymentMonitor inputs over ${RUNS} runs`, () => {
  it('record accepts valid outcomes and refuses the rest with a named error, recording nothing', () => {
    const version = fc.oneof(fc.integer({ min: -2, max: 60 }), fc.constantFrom('shadow:2', '', '1', 'constructor'), anyValue);
    const latency = fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), anyValue);
    const outcome = fc.oneof(latency, fc.record({ latencyMs: latency, success: fc.oneof(fc.boolean(), anyValue), output: fc.oneof(fc.double(), anyValue) }, { requiredKeys: ['latencyMs'] }));
    fc.assert(
      fc.property(version, outcome, fc.oneof(fc.boolean(), anyValue), fc.integer({ min: 0, max: 3_000 }), (v, o, success, advance) => {
        // A small monitor per run (two versions, one at capacity's edge), so runs stay cheap.
        const clock = new FakeClock(1_700_000_000_000);
        const monitor = new DeploymentMonitor({ windowMs: 10_000, buckets: 2, clock: clock.now, maxVersions: 3 });
        monitor.record(1, { latencyMs: 1e12, output: 1e290 });
        monitor.record('constructor', 1e12);
        clock.advance(advance);
        const before = JSON.stringify(monitor.snapshot());
        try {
          if (typeof o === 'object' && o !== null) monitor.record(v as number, o as never);
          else monitor.record(v as number, o as number, success as boolean);
        } catch (err) {
          expect(err).toBeInstanceOf(ModelRolloutError);
          expect((err as ModelRolloutError).code).toMatch(/^(VALIDATION|CAPACITY)$/);
          // Rotation may move data between buckets on a read, so compare after the same read.
          const after = monitor.snapshot();
          expect(JSON.stringify({ ...after, takenAt: 0 })).toBe(JSON.stringify({ ...(JSON.parse(before) as object), takenAt: 0 }));
        }
        finiteStats(monitor);
      }),
      { numRuns: RUNS, seed: 31 },
    );
  }, FUZZ_TIMEOUT_MS);

  it('merge accepts a snapshot it can add and refuses the rest with a named error, changing nothing', () => {
    const clock = new FakeClock(1_700_000_000_000);
    const make = () => new DeploymentMonitor({ windowMs: 10_000, buckets: 5, clock: clock.now });
    const other = make();
    // Few distinct values, so the snapshot (and each mutated copy) stays small.
    for (let i = 0; i < 60; i++) {
      if (i % 20 === 0) clock.advance(2_500);
      other.record(i % 3 === 0 ? 'shadow:2' : 1, { latencyMs: i % 2 ? 5 : 6, success: i % 9 !== 0, output: (i % 3) - 1 });
    }
    const valid = JSON.parse(JSON.stringify(other.snapshot())) as unknown;
    const target = make();
    target.record(1, 12);
    fc.assert(
      fc.property(mutated(valid), (snapshot) => {
        const before = JSON.stringify(target.snapshot());
        try {
          target.merge(snapshot as never);
        } catch (err) {
          expect(err).toBeInstanceOf(ModelRolloutError);
          expect((err as ModelRolloutError).code).toMatch(/^(VALIDATION|CAPACITY)$/);
          expect(JSON.stringify(target.snapshot())).toBe(before);
          return;
        }
        finiteStats(target);
      }),
      { numRuns: RUNS, seed: 32 },
    );
  }, FUZZ_TIMEOUT_MS);
});
