import { describe, expect, it } from 'vitest';
import { BlueGreenAnalysis } from '../../src/analysis/blue-green-analysis.js';
import type { AnalysisOptions } from '../../src/analysis/options.js';
import type { AnalysisReport } from '../../src/analysis/types.js';
import { BlueGreenSwitch, DeploymentMonitor, InvalidStateError } from '../../src/index.js';
import { FakeClock, seededRandom, simulate } from '../../src/testing/index.js';

/** v1 active in blue, v2 deployed to green; 100 requests/s over 1 000 units, a quarter of them preview requests. */
function setup(options: { pre?: AnalysisOptions; post?: AnalysisOptions; start?: number } = {}) {
  const clock = new FakeClock(options.start ?? 1_700_000_000_000);
  const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 10_000, buckets: 10 });
  const bg = new BlueGreenSwitch({ blue: 1, clock: clock.now });
  const base = { monitor, clock: clock.now, timers: clock, intervalMs: 10_000, minRequests: 100, maxErrorRate: 0.02 };
  const pre = new BlueGreenAnalysis(bg, 'prePromotion', { ...base, ...options.pre });
  const post = new BlueGreenAnalysis(bg, 'postPromotion', { ...base, ...options.post });
  const events: string[] = [];
  for (const name of ['switched', 'rolledBack'] as const) bg.on(name, () => events.push(name));
  for (const [phase, controller] of [['pre', pre], ['post', post]] as const) {
    for (const name of ['promotionAborted', 'promotionVerified', 'needsAttention'] as const) controller.on(name, () => events.push(`${phase}:${name}`));
  }
  const reports: AnalysisReport[] = [];
  pre.on('analysis', (r) => reports.push(r));
  post.on('analysis', (r) => reports.push(r));
  bg.deploy(2);
  pre.start();
  post.start();
  const traffic = (outcome: (version: number) => { latencyMs: number; success: boolean }, requests = 6_000) =>
    simulate({
      policy: bg, monitor, clock, requests,
      context: (i) => ({ unitId: `unit-${i % 1_000}`, preview: i % 4 === 0 }),
      outcome,
      until: () => false,
    });
  return { clock, monitor, bg, pre, post, events, reports, traffic };
}

const healthy = () => ({ latencyMs: 8, success: true });
function failing(version: number, rate: number) {
  const random = seededRandom(11);
  return (v: number) => ({ latencyMs: 8, success: v === version ? random() >= rate : true });
}

describe('BlueGreenAnalysis (fake clock, driven by start() on the clock’s timers)', () => {
  it('promote path: preview traffic passes, the switch happens, post-promotion verifies it', async () => {
    const { bg, events, reports, traffic } = setup();
    await traffic(healthy);
    expect(bg.state).toMatchObject({ active: 'green', activeVersion: 2 });
    expect(events).toEqual(['switched', 'post:promotionVerified']);
    expect(reports.map((r) => `${r.phase}:${r.outcome}:${r.decision}`)).toEqual([
      'prePromotion:successful:promote',
      'postPromotion:successful:complete',
    ]);
    expect(reports[0]).toMatchObject({ candidate: { version: 2 }, baseline: { version: 1 }, percentage: 0 });
    expect(reports[1]).toMatchObject({ candidate: { version: 2 }, baseline: { version: 1 }, percentage: 100 });
  });

  it('judges the post-promotion phase one interval after the switch even when fractional fake time carries float error', async () => {
    // From 0.1 ms, the ticks are 10 000.1 and 20 000.1, whose float difference is 9 999.999999999998.
    const { bg, events, reports, traffic } = setup({ start: 0.1 });
    expect(20_000.1 - 10_000.1).toBeLessThan(10_000);
    await traffic(healthy, 2_000); // 20 s of traffic: the pre-promotion tick and the one after it
    expect(bg.state).toMatchObject({ active: 'green', activeVersion: 2 });
    expect(events).toEqual(['switched', 'post:promotionVerified']);
    expect(reports.map((r) => `${r.phase}:${r.outcome}`)).toEqual(['prePromotion:successful', 'postPromotion:successful']);
  });

  it('pre-promotion failure refuses the switch: the active slot keeps serving, nothing is judged until the next deploy', async () => {
    const { bg, pre, events, reports, traffic } = setup();
    await traffic(failing(2, 0.1));
    expect(bg.state).toMatchObject({ active: 'blue', activeVersion: 1, idleVersion: 2 });
    expect(events).toEqual(['pre:promotionAborted']);
    expect(reports.map((r) => `${r.outcome}:${r.decision}`)).toEqual(['failed:abort']);
    expect(pre.active).toBe(false);
    await expect(pre.analyze()).rejects.toBeInstanceOf(InvalidStateError);
    bg.deploy(3);
    expect(pre.active).toBe(true);
  });

  it('rollback path: a version that fails after the switch is switched back automatically', async () => {
    const { bg, pre, events, reports, clock, monitor } = setup();
    pre.stop();
    await simulate({ policy: bg, monitor, clock, requests: 1_000, unitIds: 1_000, outcome: healthy, until: () => false });
    bg.switch('by hand');
    await simulate({ policy: bg, monitor, clock, requests: 6_000, unitIds: 1_000, outcome: failing(2, 0.1), until: () => false });
    expect(bg.state).toMatchObject({ active: 'blue', activeVersion: 1 });
    expect(events).toEqual(['switched', 'rolledBack']);
    expect(reports.map((r) => `${r.phase}:${r.outcome}:${r.decision}`)).toEqual(['postPromotion:failed:rollback']);
    // With no traffic left on v1, its lifetime numbers are the baseline of the post-promotion run.
    expect(reports[0]?.baseline).toMatchObject({ version: 1, window: 'lifetime' });
  });

  it('inconclusive path: without preview traffic, needsAttention after inconclusiveLimit and the loop stops', async () => {
    const { bg, pre, events, reports, clock, monitor } = setup();
    await simulate({ policy: bg, monitor, clock, requests: 6_000, unitIds: 1_000, outcome: healthy, until: () => false });
    expect(reports.map((r) => `${r.outcome}:${r.decision}`)).toEqual(['inconclusive:hold', 'inconclusive:hold', 'inconclusive:pause']);
    expect(events).toEqual(['pre:needsAttention']);
    expect(pre.running).toBe(false);
    expect(bg.state.activeVersion).toBe(1);
  });

  it('gates refusing: beforePromote keeps the preview waiting however healthy it is', async () => {
    let asked = 0;
    const { bg, reports, traffic } = setup({ pre: { gates: { beforePromote: async () => (asked++, false) } } });
    await traffic(healthy);
    expect(bg.state.activeVersion).toBe(1);
    expect(asked).toBe(reports.length);
    expect(reports.every((r) => r.decision === 'hold' && /beforePromote gate refused/.test(r.reason))).toBe(true);
  });
});
