import { ValidationError, describeValue } from '../errors.js';
import type { Clock } from '../options.js';
import { policyFromSnapshot } from '../routing/policy-from-snapshot.js';

/**
 * The policy a fleet replica decides on: a second instance of the live policy's class, rebuilt
 * from its snapshot by `policyFromSnapshot()`. The analysis and `FleetDeployment.transition()` act
 * on it, so a decision changes nothing the router reads until its save has landed. It must be of
 * the live policy's very class (the analysis and the host's `transition()` callback are typed by
 * it), so a subclass or a policy of another package is refused up front.
 * @internal
 */
export function decisionCopyOf<P extends { snapshot(): unknown }>(policy: P, clock: Clock): P {
  let copy: object;
  try {
    copy = policyFromSnapshot(policy.snapshot(), { clock });
  } catch (error) {
    throw new ValidationError(
      `FleetDeployment policy must be one of this package's routing policies (its decision copy is rebuilt from snapshot() by policyFromSnapshot): ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (Object.getPrototypeOf(copy) !== Object.getPrototypeOf(policy)) {
    throw new ValidationError(
      `FleetDeployment policy must be an instance of the routing policy class itself (its decision copy is a ${copy.constructor.name}), got ${policy.constructor?.name ?? describeValue(policy)}`,
    );
  }
  return copy as P;
}
