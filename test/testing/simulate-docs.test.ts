// The example of docs/automated-rollouts.md ("Simulate"), kept word for word apart from the imports.
import { expect, it } from 'vitest';
import { CanaryDeployment, DeploymentMonitor, canaryAnalysis } from '../../src/index.js';
import { FakeClock, seededRandom, simulate } from '../../src/testing/index.js';

it('a candidate that fails 10 % is rolled back before it takes more than 10 % of traffic', async () => {
  const clock = new FakeClock();
  const monitor = new DeploymentMonitor({ clock: clock.now, windowMs: 60_000 });
  const canary = new CanaryDeployment({ stable: 1, canary: 2, steps: [5, 10, 25, 50, 100], clock: clock.now });
  const analysis = canaryAnalysis(canary, { monitor, clock: clock.now, intervalMs: 60_000, minRequests: 100, maxErrorRate: 0.02 });
  canary.start();

  const random = seededRandom(42);
  const run = await simulate({
    policy: canary, analysis, monitor, clock,
    requests: 100_000, requestsPerStep: 1_000, stepMs: 10_000, analyzeEveryMs: 60_000,
    unitIds: 10_000,
    outcome: (version) => ({ latencyMs: 5, success: version === 2 ? random() >= 0.1 : true }),
  });

  expect(canary.state.status).toBe('rolledBack');
  expect(run.maxPercentage).toBeLessThanOrEqual(10);
  expect(run.decisions.at(-1)).toMatchObject({ outcome: 'failed', decision: 'rollback' });
});
