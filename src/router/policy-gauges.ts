import type { RolloutAnalysisOutcome, RolloutGauges } from '../monitor/rollout-gauges.js';
import { CANARY_STATUSES, CanaryDeployment } from '../routing/canary.js';
import type { PolicyTraffic, RoutingPolicy } from '../routing/policy.js';
import type { RouterMonitor } from './parts.js';

/** The part of an analysis report the gauges keep. */
interface AnalysisRun {
  outcome: RolloutAnalysisOutcome;
  at: number;
}

interface AnalysisEmitter {
  on(event: 'analysis', listener: (report: AnalysisRun) => void): unknown;
}

function emitsAnalysis(source: object): source is AnalysisEmitter {
  return typeof (source as Partial<AnalysisEmitter>).on === 'function';
}

/**
 * Reports `policy` in `monitor`'s scrapes as `deployment`: its traffic per version (what
 * `traffic()` returns, the router's reading of the policy), a canary's status and step, and the outcome and time of the
 * latest analysis run that the policy or its composed analyses (`analyses`) emit. @internal
 */
export function trackPolicy(
  monitor: RouterMonitor,
  deployment: string,
  policy: RoutingPolicy,
  traffic: () => PolicyTraffic[],
  analyses: readonly object[],
): void {
  if (typeof monitor.trackRollout !== 'function') return;
  let lastAnalysis: AnalysisRun | undefined;
  for (const source of analyses) {
    if (!emitsAnalysis(source)) continue;
    source.on('analysis', ({ outcome, at }) => {
      lastAnalysis = { outcome, at };
    });
  }
  monitor.trackRollout(deployment, () => policyGauges(policy, traffic(), lastAnalysis));
}

function policyGauges(policy: RoutingPolicy, routed: PolicyTraffic[], lastAnalysis: AnalysisRun | undefined): RolloutGauges {
  const traffic: Array<RolloutGauges['traffic'][number]> = [];
  for (const { version, variant, share } of routed) {
    // Twelve digits: a share kept as percentage / 100 reads back as 7, not 7.000000000000001.
    if (share !== undefined) traffic.push({ version, variant, percentage: Number((share * 100).toPrecision(12)) });
  }
  const gauges: RolloutGauges = { traffic };
  if (policy instanceof CanaryDeployment) {
    const { status, stepIndex } = policy.state;
    gauges.status = { current: status, all: CANARY_STATUSES };
    gauges.step = stepIndex;
  }
  if (lastAnalysis !== undefined) gauges.lastAnalysis = lastAnalysis;
  return gauges;
}
