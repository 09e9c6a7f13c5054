import { IntegrityError } from '../errors.js';
import { ABTestController } from '../routing/ab-test.js';
import type { ExperimentResults, ExperimentSnapshot } from '../routing/ab-test-types.js';
import { BanditPolicy } from '../routing/bandit.js';
import type { ReadHeartbeat } from './fleet-monitors.js';
import type { HeartbeatObservations } from './monitor-heartbeat.js';

/*
 * Policy-level counts that every replica gathers for itself and the fleet adds up from heartbeats:
 * a bandit's rewards (kept per replica id, merged by taking each replica's largest count) and an
 * A/B controller's results (each replica publishes only its own; a fleet view adds the latest
 * of every replica once). Routing state moves through the deployment store; these never do, so a
 * restore from the store keeps each replica's own counts.
 */

/** What `policy` publishes in its heartbeat beside the monitor, or `undefined`. @internal */
export function observationsOf(policy: unknown): HeartbeatObservations | undefined {
  if (policy instanceof BanditPolicy) return { bandit: policy.snapshot() };
  if (policy instanceof ABTestController) {
    return { abTest: Object.fromEntries(policy.experimentNames.map((name) => [name, policy.exportStats(name)])) };
  }
  return undefined;
}

/**
 * Restores a stored snapshot into the live policy, keeping the counts this replica gathered
 * itself: a bandit merges its previous counts back (largest per replica), an A/B controller
 * keeps its own results (the snapshot's are another replica's, and would be counted twice).
 * @internal
 */
export function restoreKeepingOwnCounts(policy: { restore(snapshot: unknown): void }, snapshot: unknown): void {
  if (policy instanceof BanditPolicy) {
    const previous = policy.snapshot();
    policy.restore(snapshot);
    try {
      policy.merge(previous);
    } catch {
      // The arms changed: the previous counts belong to another configuration and are dropped.
    }
    return;
  }
  if (policy instanceof ABTestController) {
    const own = new Map(policy.experimentNames.map((name) => [name, policy.exportStats(name)]));
    policy.restore(snapshot);
    for (const name of policy.experimentNames) {
      policy.exportStats(name, { reset: true });
      const mine = own.get(name);
      if (mine !== undefined) {
        try {
          policy.mergeStats(name, mine);
        } catch {
          // Same name, other variants: a new experiment, whose results start at zero.
        }
      }
    }
    return;
  }
  policy.restore(snapshot);
}

/**
 * Merges the other fresh replicas' bandit counts into the live bandit (each replica's largest
 * count, so a heartbeat read twice counts once). Other policies keep their counts to themselves.
 * @throws IntegrityError naming the heartbeat whose counts do not merge.
 * @internal
 */
export function mergeBanditCounts(policy: unknown, heartbeats: readonly ReadHeartbeat[], self: string): void {
  if (!(policy instanceof BanditPolicy)) return;
  for (const h of heartbeats) {
    const bandit = h.record.observations?.bandit;
    if (!h.fresh || h.replicaId === self || bandit === undefined) continue;
    try {
      policy.merge(bandit);
    } catch (error) {
      throw new IntegrityError(`heartbeat '${h.key}' holds bandit counts that do not merge: ${(error as Error).message}`, { cause: error });
    }
  }
}

/**
 * The fleet's results of one A/B experiment: this replica's own results plus the latest fresh
 * heartbeat of every other replica, each once, in a scratch controller (the live one is untouched).
 * @throws IntegrityError naming the heartbeat whose results do not merge.
 * @internal
 */
export function fleetExperimentResults(policy: ABTestController, name: string, heartbeats: readonly ReadHeartbeat[], self: string): ExperimentResults {
  return mergedExperiment(policy, name, heartbeats, self).results(name);
}

/**
 * Brings the fleet's view of the A/B experiments (the controller an analysis is composed on in
 * fleet mode) up to date before a look: the live controller's shared state — experiments,
 * conclusions, pins — with each experiment's statistics replaced by the fleet's (this replica's
 * own and the latest fresh heartbeat of every other, each once), and the view's own sequential
 * looks kept, so the running minimum and intersection go on across turns. The view is restored
 * only when that shared state changed (a `restored` event: an analysis on it starts its counters
 * afresh); returns whether it was.
 * @throws IntegrityError naming the heartbeat whose results do not merge.
 * @internal
 */
export function syncExperimentView(view: ABTestController, live: ABTestController, heartbeats: readonly ReadHeartbeat[], self: string): boolean {
  const shared = live.snapshot();
  const held = new Map(view.snapshot().experiments.map((e) => [e.name, e]));
  const changed = shared.experiments.length !== held.size || shared.experiments.some((e) => {
    const h = held.get(e.name);
    return h === undefined || shapeOf(h) !== shapeOf(e);
  });
  if (changed) {
    // Looks are the view's, never the live controller's (those are about this replica's results alone).
    view.restore({
      ...shared,
      experiments: shared.experiments.map((e) => {
        const h = held.get(e.name);
        return { ...e, looks: h !== undefined && h.control === e.control && JSON.stringify(h.variants) === JSON.stringify(e.variants) ? h.looks : {} };
      }),
    });
  }
  for (const name of view.experimentNames) view.replaceStats(name, mergedExperiment(live, name, heartbeats, self).exportStats(name));
  return changed;
}

/** A fleet view seeded from the live controller, before any look: its state, no looks. @internal */
export function experimentView(live: ABTestController, clock: () => number): ABTestController {
  const view = new ABTestController({ clock });
  const shared = live.snapshot();
  view.restore({ ...shared, experiments: shared.experiments.map((e) => ({ ...e, looks: {} })) });
  return view;
}

/** An experiment's configuration, conclusion and pins: what the view follows the live controller in. */
function shapeOf(e: ExperimentSnapshot): string {
  return JSON.stringify({ ...e, stats: undefined, looks: undefined });
}

/** A scratch controller holding the live state with the fleet's results of experiment `name`. */
function mergedExperiment(policy: ABTestController, name: string, heartbeats: readonly ReadHeartbeat[], self: string): ABTestController {
  const view = new ABTestController();
  view.restore(policy.snapshot());
  for (const h of heartbeats) {
    const stats = h.record.observations?.abTest?.[name];
    if (!h.fresh || h.replicaId === self || stats === undefined) continue;
    try {
      view.mergeStats(name, stats as Parameters<ABTestController['mergeStats']>[1]);
    } catch (error) {
      throw new IntegrityError(`heartbeat '${h.key}' holds results of experiment '${name}' that do not merge: ${(error as Error).message}`, { cause: error });
    }
  }
  return view;
}
