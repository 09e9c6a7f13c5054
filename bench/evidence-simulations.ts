/**
 * The full seeded simulations behind docs/automated-rollouts.md's evidence figures (the suite runs
 * smaller sets of the same scenarios: test/analysis/evidence-simulation.test.ts). Not a speed
 * bench: run it with `npx tsx bench/evidence-simulations.ts` (about 5 minutes on 2 cores).
 */
import { EVIDENCE, medianRequestsToRollback, offPolicyCoverage, rollbackRate, rollouts, thresholds } from '../test/analysis/fixtures/canary-evidence.js';

const percent = (x: number) => `${(100 * x).toFixed(1)} %`;
const started = performance.now();

const AA = 1000;
const evidenceAA = await rollouts(AA, EVIDENCE);
console.log(`A/A, ${AA} rollouts: evidence method rolled back ${percent(rollbackRate(evidenceAA))} (α = 5 %)`);

const TUNING = 200;
const bad = { extraErrorRate: 0.03 };
const evidenceBad = await rollouts(TUNING, EVIDENCE, bad);
console.log(
  `+3 points, ${TUNING} rollouts: evidence rolled back ${percent(rollbackRate(evidenceBad))}, median ${medianRequestsToRollback(evidenceBad)} candidate requests`,
);
console.log('threshold method (maxErrorRate, minRequests 100): A/A false rollbacks | +3 points rolled back, median candidate requests');
for (const limit of [0.02, 0.025, 0.03, 0.035, 0.04, 0.045, 0.05]) {
  const aa = limit === 0.03 ? await rollouts(AA, thresholds(limit)) : await rollouts(TUNING, thresholds(limit));
  const worse = await rollouts(TUNING, thresholds(limit), bad);
  console.log(
    `  maxErrorRate ${limit}: ${percent(rollbackRate(aa))} of ${aa.length} | ${percent(rollbackRate(worse))}, median ${medianRequestsToRollback(worse)}`,
  );
}

const spike = { spike: { from: 15, to: 45, factor: 4 } };
const SHORT = 100;
console.log(
  `latency spike on both (×4 for 30 s), ${SHORT} rollouts: evidence rolled back ${percent(rollbackRate(await rollouts(SHORT, EVIDENCE, spike)))}, ` +
    `maxP99LatencyMs 60 rolled back ${percent(rollbackRate(await rollouts(SHORT, thresholds(0.03, 60), spike)))}`,
);
const slow = await rollouts(SHORT, EVIDENCE, { slowdown: 1.5 });
console.log(`candidate 1.5× slower, ${SHORT} rollouts: evidence rolled back ${percent(rollbackRate(slow))}, median ${medianRequestsToRollback(slow)} candidate requests`);

const coverage = await offPolicyCoverage(200);
console.log(`off-policy, 200 bandit runs of 4 000 requests: IPS covers ${percent(coverage.ips)}, self-normalised ${percent(coverage.snips)} (95 % intervals)`);
console.log(`${((performance.now() - started) / 1000).toFixed(0)} s`);
