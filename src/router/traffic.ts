import { BlueGreenSwitch } from '../routing/blue-green.js';
import { BanditPolicy } from '../routing/bandit.js';
import { CanaryDeployment } from '../routing/canary.js';
import type { RoutingPolicy } from '../routing/policy.js';
import { ShadowDeployment } from '../routing/shadow.js';

/** One version a policy may send requests to now, with its share of live traffic. */
export interface PolicyTraffic {
  version: number;
  /** Variant, slot or arm name (`'stable'`, `'canary'`, `'blue'`, `'shadow'` …). */
  variant: string;
  /**
   * Share of live requests it answers, in [0, 1]; `undefined` when the policy decides per request
   * (a bandit). A shadow answers nobody (0) but receives `mirrorShare` of the requests.
   */
  share: number | undefined;
  /** Shadow only: share of requests mirrored to it, in [0, 1]. */
  mirrorShare?: number;
}

/**
 * The versions a policy routes to now. Built-in policies are read from their state; any other
 * policy reports its `fallback()` version only.
 * @internal
 */
export function policyTraffic(policy: RoutingPolicy): PolicyTraffic[] {
  if (policy instanceof CanaryDeployment) {
    const { stable, canary, percentage } = policy.state;
    const stableEntry: PolicyTraffic = { version: stable, variant: 'stable', share: 1 - percentage / 100 };
    return canary === undefined || percentage === 0
      ? [{ ...stableEntry, share: 1 }]
      : [stableEntry, { version: canary, variant: 'canary', share: percentage / 100 }];
  }
  if (policy instanceof BlueGreenSwitch) {
    const { active, activeVersion, idleVersion } = policy.state;
    const traffic: PolicyTraffic[] = [{ version: activeVersion, variant: active, share: 1 }];
    if (idleVersion !== undefined) traffic.push({ version: idleVersion, variant: active === 'blue' ? 'green' : 'blue', share: 0 });
    return traffic;
  }
  if (policy instanceof ShadowDeployment) {
    const { primary, shadow } = policy.report();
    return [
      { version: primary, variant: 'primary', share: 1 },
      { version: shadow, variant: 'shadow', share: 0, mirrorShare: policy.mirrored / 100 },
    ];
  }
  if (policy instanceof BanditPolicy) {
    return policy.state.arms.map((arm) => ({ version: arm.version, variant: arm.variant, share: undefined }));
  }
  const { version, variant } = policy.fallback();
  return [{ version, variant, share: 1 }];
}
