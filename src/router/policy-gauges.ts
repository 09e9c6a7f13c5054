import type { DeploymentMonitor } from '../monitor/deployment-monitor.js';
import type { RolloutAnalysisOutcome, RolloutGauges } from '../monitor/rollout-gauges.js';
import { CANARY_STATUSES, CanaryDeployment } from '../routing/canary.js';
import type { RoutingPolicy } from '../routing/policy.js';
import { policyTraffic } from './traffic.js';

/** The part of an analysis report the gauges keep. */
interface AnalysisRun {
  outcome: RolloutAnalysisOutcome;
  at: number;
}

interface AnalysisEmitter {
  on(event: 'analysis', listener: (report: AnalysisRun) => void): unknown;
}

function emitsAnalysis(policy: RoutingPolicy): policy is RoutingPolicy & AnalysisEmitter {
  return typeof (policy as Partial<AnalysisEmitter>).on === 'function';
}

/**
 * Reports `policy` in `monitor`'s scrapes as `deployment`: its traffic per version (as
 * {@link policyTraffic} reads it), a canary's status and step, and the outcome and time of the
 * latest analysis run the policy emits. @internal
 */
export function trackPolicy(monitor: DeploymentMonitor, deployment: string, policy: RoutingPolicy): void {
  let lastAnalysis: AnalysisRun | undefined;
  if (emitsAnalysis(policy)) {
    policy.on('analysis', ({ outcome, at }) => {
      lastAnalysis = { outcome, at };
    });
  }
  monitor.trackRollout(deployment, () => policyGauges(policy, lastAnalysis));
}

function policyGauges(policy: RoutingPolicy, lastAnalysis: AnalysisRun | undefined): RolloutGauges {
  const traffic: Array<RolloutGauges['traffic'][number]> = [];
  for (const { version, variant, share } of policyTraffic(policy)) {
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
