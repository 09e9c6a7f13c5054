/**
 * What `promote`, `abort`, `rollback`, `pause` and `resume` do to each kind of policy. Each is a
 * transition of the policy rebuilt from its snapshot; the caller stores the new snapshot with
 * `DeploymentStore.transition()`. A verb a policy has no meaning for is an `InvalidStateError`
 * naming what the policy does offer.
 */
import { InvalidStateError } from '../errors.js';
import { ABTestController } from '../routing/ab-test.js';
import { BlueGreenSwitch } from '../routing/blue-green.js';
import { CanaryDeployment } from '../routing/canary.js';
import type { RestoredPolicy } from '../routing/policy-from-snapshot.js';
import { summarizePolicy, type PolicySummary } from './policy-summary.js';

export type OperatorVerb = 'promote' | 'abort' | 'rollback' | 'pause' | 'resume';

export interface OperatorAction {
  verb: OperatorVerb;
  /** `promote` skips the remaining steps (Argo's `promote --full`). */
  full?: boolean;
  reason?: string;
}

/** The audit record's action and the status before and after. */
export interface AppliedAction {
  action: string;
  from: string;
  to: string;
}

/** A status with the candidate's share when it has one (`progressing 25 %`), so a step shows in the audit. */
function describe(summary: PolicySummary): string {
  return summary.percentage !== null && summary.percentage > 0 ? `${summary.status} ${Number(summary.percentage.toFixed(2))} %` : summary.status;
}

function unsupported(policy: string, verb: OperatorVerb, offers: string): InvalidStateError {
  return new InvalidStateError(`a ${policy} deployment cannot ${verb}: it offers ${offers}`);
}

/** Applies one operator verb to `policy` (mutating it). @throws InvalidStateError when the policy cannot do it now. */
export function applyOperatorAction(policy: RestoredPolicy, request: OperatorAction): AppliedAction {
  const from = describe(summarizePolicy(policy));
  const { verb, reason } = request;
  let action: string = verb;
  if (policy instanceof CanaryDeployment) {
    const { percentage, status } = policy.state;
    const next = policy.steps.find((s) => s > percentage);
    if (verb === 'promote' && request.full !== true && next !== undefined && next < 100) {
      // Argo's promote: on to the next step (a paused rollout resumes to take it).
      if (status === 'paused') policy.resume(reason);
      policy.increase();
      action = 'step';
    } else if (verb === 'promote') policy.promote(reason);
    else if (verb === 'abort') policy.abort(reason);
    else if (verb === 'rollback') policy.rollback(reason);
    else if (verb === 'pause') policy.pause(reason);
    else policy.resume(reason);
  } else if (policy instanceof BlueGreenSwitch) {
    if (verb === 'promote') {
      policy.switch(reason);
      action = 'switch';
    } else if (verb === 'rollback' || verb === 'abort') {
      if (!policy.state.canRollback) throw new InvalidStateError('cannot roll back this blue-green deployment: no switch to undo (a deploy since, or never switched)');
      policy.rollback(reason);
      action = 'rollback';
    } else throw unsupported('blue-green', verb, 'promote (switch to the preview slot) and rollback');
  } else if (policy instanceof ABTestController) {
    // An A/B test ends by concluding: promote picks the significant winner, rollback the control.
    if (verb === 'pause' || verb === 'resume') throw unsupported('ab-test', verb, 'promote (conclude on the evidence) and rollback / abort (conclude for the control)');
    const running = policy.experimentNames.filter((n) => policy.results(n).conclusion === null);
    if (running.length === 0) throw new InvalidStateError('every experiment of this A/B deployment is already concluded');
    for (const name of running) policy.conclude(name, verb === 'promote' ? undefined : policy.results(name).control);
    action = 'conclude';
  } else {
    const kind = summarizePolicy(policy).policy;
    throw unsupported(kind, verb, 'no operator transitions (change it from the host)');
  }
  return { action, from, to: describe(summarizePolicy(policy)) };
}
