import { ValidationError, describeValue } from '../errors.js';
import type { Clock, RandomSource } from '../options.js';
import { ABTestController } from './ab-test.js';
import { BanditPolicy } from './bandit.js';
import { BlueGreenSwitch } from './blue-green.js';
import { CanaryDeployment } from './canary.js';
import { checkRecord } from './checks.js';
import { ShadowDeployment } from './shadow.js';
import { StaticPolicy } from './static-policy.js';

/** Any policy {@link policyFromSnapshot} can rebuild; tell them apart with `instanceof` or the snapshot's `policy` tag. */
export type RestoredPolicy = StaticPolicy | BlueGreenSwitch | CanaryDeployment | ABTestController | ShadowDeployment | BanditPolicy;

/** Options of {@link policyFromSnapshot}: the per-process settings a snapshot does not carry. */
export interface PolicyFromSnapshotOptions {
  /** Time source of the rebuilt policy (default `Date.now`). */
  clock?: Clock;
  /** Uniform [0, 1) source of the rebuilt policy (default `Math.random`). */
  random?: RandomSource;
}

/**
 * A/B snapshots are tagged `'ab-test'`; v0.1 tagged them `'ABTestController'`, which is still read
 * and handed to `restore()` under the current tag.
 */
const AB_TAGS = ['ab-test', 'ABTestController'];
const TAGS = ['static', 'blue-green', 'canary', 'ab-test', 'shadow', 'bandit'];

/**
 * Rebuilds a routing policy from its `snapshot()` alone: the snapshot's `policy` tag picks the class,
 * and `restore()` checks every field, so a bad snapshot is a `ValidationError` naming the field
 * (`snapshot.percentage must be …`). The rebuilt policy's `snapshot()` equals the one given, so a
 * tool that holds only stored state (the `model-rollout` command, an operator's script) can apply a
 * transition and write the new snapshot back without knowing how the policy was first configured.
 *
 * Process settings that are not state stay at their defaults: a canary keeps every history entry
 * it was given, a bandit reports its counts as the first replica of the snapshot (so restoring
 * adds no replica), an A/B controller routes its first experiment, and a shadow compares the first
 * output.
 *
 * @example
 * ```ts
 * const stored = await store.read('iris');
 * const policy = policyFromSnapshot(stored!.state.policy);
 * if (policy instanceof CanaryDeployment) policy.rollback('error rate 4 %');
 * await store.transition('iris', stored!, { action: 'rollback', by: 'operator:ana@laptop', policy: policy.snapshot() });
 * ```
 * @throws ValidationError when the snapshot is not one a routing policy of this package made.
 */
export function policyFromSnapshot(snapshot: unknown, options: PolicyFromSnapshotOptions = {}): RestoredPolicy {
  const record = checkRecord('snapshot', snapshot);
  const { clock, random } = options;
  const chance = { ...(clock === undefined ? {} : { clock }), ...(random === undefined ? {} : { random }) };
  const tag = record.policy;
  let policy: RestoredPolicy;
  let restoring: unknown = snapshot;
  switch (tag) {
    case 'static':
      policy = new StaticPolicy({ version: 1, ...chance });
      break;
    case 'blue-green':
      policy = new BlueGreenSwitch({ blue: 1, ...chance });
      break;
    case 'canary': {
      // Keep every entry given (and room for one more): the followers trim to their own limit.
      const history = Array.isArray(record.history) ? record.history.length : 0;
      policy = new CanaryDeployment({ stable: 1, historyLimit: Math.max(100, history + 1), ...chance });
      break;
    }
    case 'shadow':
      policy = new ShadowDeployment({ primary: 1, shadow: 2, ...chance });
      break;
    case 'bandit': {
      // A bandit adds an empty row for its own replica id; reuse one the snapshot has.
      const counts = typeof record.counts === 'object' && record.counts !== null ? Object.keys(record.counts) : [];
      policy = new BanditPolicy({
        arms: [{ variant: 'a', version: 1 }, { variant: 'b', version: 2 }],
        ...(counts[0] === undefined ? {} : { replicaId: counts[0] }),
        ...chance,
      });
      break;
    }
    default: {
      if (typeof tag !== 'string' || !AB_TAGS.includes(tag)) {
        throw new ValidationError(`snapshot.policy must be one of ${TAGS.map((t) => `'${t}'`).join(', ')} (or 'ABTestController'), got ${describeValue(tag)}`);
      }
      const controller = new ABTestController(chance);
      restoring = { ...record, policy: controller.snapshot().policy };
      policy = controller;
    }
  }
  policy.restore(restoring);
  return policy;
}
