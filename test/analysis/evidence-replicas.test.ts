/**
 * The evidence method on a fleet's merged monitor, rebuilt from each replica's latest snapshot at
 * every run: a replica joining the merge mid-step, one leaving it, and one restarting under the
 * same id must leave the window holding exactly the step's requests as the merge saw them.
 */
import { describe, expect, it } from 'vitest';
import { CanaryAnalysis } from '../../src/analysis/canary-analysis.js';
import type { AnalysisOptions } from '../../src/analysis/options.js';
import { CanaryDeployment, DeploymentMonitor, ValidationError, type AnalysisReport } from '../../src/index.js';
import { FakeClock, seededRandom } from '../../src/testing/index.js';

const EVIDENCE: AnalysisOptions = { method: 'evidence', minRequests: 20, relative: { maxErrorRateIncrease: 0.01, maxLatencyRatio: 1.2 }, inconclusiveLimit: 1000 };

function rollout(monitor: DeploymentMonitor, clock: FakeClock) {
  const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [10, 50], clock: clock.now });
  const analysis = new CanaryAnalysis(canary, { monitor, clock: clock.now, ...EVIDENCE });
  return { canary, analysis };
}

/** `n` outcomes per version with the given error rates, latencies around 20 ms, into each of `into`. */
function traffic(into: DeploymentMonitor[], seed: number, n: { 1: number; 2: number }, errors: { 1: number; 2: number }): void {
  for (const monitor of into) {
    const random = seededRandom(seed);
    for (const v of [1, 2] as const) for (let i = 0; i < n[v]; i++) monitor.record(v, 20 * (0.5 + random()), random() >= errors[v]);
  }
}

describe('the evidence window on a merged monitor, replica by replica', () => {
  it('a replica joining mid-step counts from when it is first seen, one leaving keeps what it added, one restarting keeps its earlier life: the evidence is what the step\'s requests alone give', async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const options = { clock: clock.now, windowMs: 60_000 };
    const merged = new DeploymentMonitor(options);
    // What the window must hold: every request the merge saw served in the step, each once.
    const truth = new DeploymentMonitor(options);
    const fleet = rollout(merged, clock);
    const alone = rollout(truth, clock);
    const local: Record<string, DeploymentMonitor> = { r1: new DeploymentMonitor(options), r2: new DeploymentMonitor(options), r3: new DeploymentMonitor(options) };
    const rebuild = (ids: string[]) => {
      merged.clear();
      for (const id of ids) merged.merge(local[id]!.snapshot(), { source: id });
    };
    // History before the rollout: r1 and r2 in the merge; r3 not yet, with a bad stretch of v1 and a
    // good one of v2 that would make the candidate look better than it is if it counted.
    traffic([local.r1!], 1, { 1: 2000, 2: 0 }, { 1: 0.01, 2: 0 });
    traffic([local.r2!], 2, { 1: 2000, 2: 0 }, { 1: 0.01, 2: 0 });
    traffic([local.r3!], 3, { 1: 5000, 2: 800 }, { 1: 0.2, 2: 0 });
    rebuild(['r1', 'r2']);
    fleet.canary.start();
    alone.canary.start();

    const reports: Array<[AnalysisReport, AnalysisReport]> = [];
    for (let interval = 1; interval <= 6; interval++) {
      if (interval === 4) local.r1 = new DeploymentMonitor(options); // r1 restarts: its lifetime counts begin again
      // r3 joins the merge at 2; r2 leaves it after 2 (its heartbeat stale: it serves on, unseen).
      const seen = interval === 1 ? ['r1', 'r2'] : interval === 2 ? ['r1', 'r2', 'r3'] : ['r1', 'r3'];
      for (const [id, seed] of [['r1', 10], ['r2', 20], ['r3', 30]] as const) {
        // Counted: a replica in this merge that was in the last one too (r3's first merge, at 2, and
        // r1's first after its restart, at 4, only start their windows); r2, gone after 2, no more.
        const counted = seen.includes(id) && !(id === 'r3' && interval === 2) && !(id === 'r1' && interval === 4);
        traffic(counted ? [local[id]!, truth] : [local[id]!], seed + interval, { 1: 1500, 2: 170 }, { 1: 0.01, 2: 0.02 });
      }
      rebuild(seen);
      clock.advance(10_000);
      const pair: [AnalysisReport, AnalysisReport] = [await fleet.analysis.analyze(), await alone.analysis.analyze()];
      reports.push(pair);
      if (pair[1].outcome === 'failed') break;
    }
    for (const [f, t] of reports) {
      expect(f.candidate).toEqual(t.candidate);
      expect(f.baseline).toEqual(t.baseline);
      expect(f.checks).toEqual(t.checks);
      expect(f.outcome).toBe(t.outcome);
    }
    // Intervals 1–3 and 5–6 counted two replicas' candidate requests each (170 per replica and interval), 4 one.
    expect(reports.map(([, t]) => t.candidate.totalRequests)).toEqual([340, 680, 1020, 1190, 1530, 1870].slice(0, reports.length));
    expect(reports.length).toBeGreaterThanOrEqual(4);
  });

  it('the window is carried as plain data in counters: another analysis restored from its JSON judges the same requests, a bad window is refused naming its field and changes nothing', async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const monitor = new DeploymentMonitor({ clock: clock.now });
    traffic([monitor], 1, { 1: 2_000, 2: 0 }, { 1: 0.01, 2: 0 }); // before the step: none of its window
    const leader = rollout(monitor, clock);
    leader.canary.start();
    traffic([monitor], 2, { 1: 900, 2: 100 }, { 1: 0.01, 2: 0.01 });
    await leader.analysis.analyze();
    const carried = JSON.parse(JSON.stringify(leader.analysis.counters));
    expect(carried.evidence).toMatchObject({ candidate: 2, baseline: 1, alpha: 0.025 });

    const taker = rollout(monitor, clock);
    taker.canary.restore(leader.canary.snapshot());
    taker.analysis.restoreCounters(carried);
    expect(taker.analysis.counters).toEqual(leader.analysis.counters);
    traffic([monitor], 3, { 1: 900, 2: 100 }, { 1: 0.01, 2: 0.01 });
    const [a, b] = [await leader.analysis.analyze(), await taker.analysis.analyze()];
    expect([b.candidate.totalRequests, b.baseline?.totalRequests, b.counters.runs]).toEqual([200, 1_800, 2]);
    expect({ ...b, at: 0 }).toEqual({ ...a, at: 0 });

    const before = taker.analysis.counters;
    const bad = structuredClone(carried);
    bad.evidence.parts[''].candidate.totalRequests = -1;
    expect(() => taker.analysis.restoreCounters(bad)).toThrow(/counters\.evidence\.parts\[""\]\.candidate\.totalRequests must be a non-negative integer, got number -1/);
    expect(() => taker.analysis.restoreCounters({ ...carried, evidence: { ...carried.evidence, alpha: 2 } })).toThrow(ValidationError);
    expect(taker.analysis.counters).toEqual(before);
  });
});

