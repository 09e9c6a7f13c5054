/**
 * One operator action as a stored transition: read the deployment, rebuild its policy from the
 * snapshot, apply the verb, and move revision r to r + 1. A lost race re-reads and decides again;
 * a storage failure whose outcome is unknown (a lost reply, a writer cut between its two writes)
 * is settled by reading back, so the command reports what really happened.
 */
import { NotFoundError, PreconditionFailedError, StorageError } from '../errors.js';
import type { DeploymentStore, StoredDeployment } from '../fleet/deployment-store.js';
import { policyFromSnapshot } from '../routing/policy-from-snapshot.js';
import { applyOperatorAction, type AppliedAction, type OperatorAction } from './operator-actions.js';

/** Lost races an operator action re-reads and re-applies before giving up. */
const MAX_ATTEMPTS = 5;

export interface Operated extends AppliedAction {
  /** The revision the action was applied to, and the one it made. */
  previous: number;
  revision: number;
}

/** The stored deployment, or a NotFoundError listing the deployments there are. */
export async function readDeployment(store: DeploymentStore, name: string, list: () => Promise<string[]>): Promise<StoredDeployment> {
  const current = await store.read(name);
  if (current) return current;
  const names = await list();
  throw new NotFoundError(`no deployment '${name}' in this store (deployments: ${names.length > 0 ? names.join(', ') : 'none'})`);
}

export async function operate(store: DeploymentStore, name: string, request: OperatorAction, by: string, list: () => Promise<string[]>): Promise<Operated> {
  for (let attempt = 1; ; attempt++) {
    const current = await readDeployment(store, name, list);
    const policy = policyFromSnapshot(current.state.policy);
    const applied = applyOperatorAction(policy, request);
    const previous = current.state.revision;
    try {
      const next = await store.transition(name, current, {
        action: applied.action,
        by,
        policy: policy.snapshot(),
        analysis: current.state.analysis,
        from: applied.from,
        to: applied.to,
        reason: request.reason ?? null,
      });
      return { ...applied, previous, revision: next.state.revision };
    } catch (err) {
      // Another replica moved the deployment first: decide again on what it made.
      if (err instanceof PreconditionFailedError && attempt < MAX_ATTEMPTS) continue;
      if (!(err instanceof StorageError)) throw err;
      // Unknown outcome: finish a transition whose claim landed, then look at who made r + 1.
      const settled = await store.settle(name).catch(() => undefined);
      if (settled?.state.revision === previous + 1 && settled.state.by === by) return { ...applied, previous, revision: previous + 1 };
      if (settled?.state.revision === previous) {
        throw new StorageError(`${err.message}; deployment '${name}' is unchanged at revision ${previous}`, { cause: err });
      }
      throw err;
    }
  }
}
