/** What a deployment's policy says about itself, in the few words `deployments` and `status` show. */
import { ABTestController } from '../routing/ab-test.js';
import { BanditPolicy } from '../routing/bandit.js';
import { BlueGreenSwitch } from '../routing/blue-green.js';
import { CanaryDeployment } from '../routing/canary.js';
import type { RestoredPolicy } from '../routing/policy-from-snapshot.js';
import type { PolicyTraffic } from '../routing/policy.js';
import { ShadowDeployment } from '../routing/shadow.js';

export interface PolicySummary {
  /** `canary`, `blue-green`, `ab-test`, `shadow`, `bandit`, `static`. */
  policy: string;
  /** `progressing`, `paused`, `rolledBack` … for a canary; the active slot for blue-green; … */
  status: string;
  /** `2/4` (the step reached, of the steps); `null` for policies without steps. */
  step: string | null;
  /** The candidate's share of traffic in percent (a canary's, a shadow's mirror); `null` otherwise. */
  percentage: number | null;
  traffic: PolicyTraffic[];
}

export function summarizePolicy(policy: RestoredPolicy): PolicySummary {
  const traffic = policy.traffic();
  if (policy instanceof CanaryDeployment) {
    const { status, stepIndex, percentage } = policy.state;
    return { policy: 'canary', status, step: `${stepIndex + 1}/${policy.steps.length}`, percentage, traffic };
  }
  if (policy instanceof BlueGreenSwitch) {
    const { active, activeVersion } = policy.state;
    return { policy: 'blue-green', status: `${active} active (v${activeVersion})`, step: null, percentage: null, traffic };
  }
  if (policy instanceof ABTestController) {
    const names = policy.experimentNames;
    const concluded = names.filter((n) => policy.results(n).conclusion !== null).length;
    const status = names.length === 0 ? 'no experiment' : concluded === names.length ? 'concluded' : concluded === 0 ? 'running' : `${concluded}/${names.length} concluded`;
    return { policy: 'ab-test', status, step: null, percentage: null, traffic };
  }
  if (policy instanceof ShadowDeployment) {
    const mirror = traffic.find((t) => t.mirrorShare !== undefined)?.mirrorShare ?? 0;
    return { policy: 'shadow', status: mirror > 0 ? 'mirroring' : 'not mirroring', step: null, percentage: mirror * 100, traffic };
  }
  if (policy instanceof BanditPolicy) {
    return { policy: 'bandit', status: `${policy.state.algorithm}, best ${policy.state.best}`, step: null, percentage: null, traffic };
  }
  return { policy: 'static', status: 'static', step: null, percentage: null, traffic };
}
