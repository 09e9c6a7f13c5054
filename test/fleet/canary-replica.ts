/**
 * One replica of a canary fleet on a FakeClock, as the in-process fleet tests build it: a live
 * CanaryDeployment (stable v1, canary v2), its DeploymentMonitor, and a FleetDeployment whose
 * analysis is `canaryAnalysis` composed on the merged monitor and the decision copy. Timers that
 * never fire unless a test sets them: every turn is driven by `tick()`.
 */
import {
  CanaryDeployment,
  DeploymentMonitor,
  FleetDeployment,
  canaryAnalysis,
  type CanaryAnalysisOptions,
  type DeploymentMonitorOptions,
  type FleetDeploymentOptions,
  type StorageAdapter,
} from '../../src/index.js';
import type { FakeClock } from '../../src/testing/index.js';

/** A timer interval that never comes within a test. */
export const NEVER = 1e9;

export interface CanaryReplica {
  id: string;
  canary: CanaryDeployment;
  monitor: DeploymentMonitor;
  fleet: FleetDeployment<CanaryDeployment>;
}

export interface CanaryReplicaOptions {
  steps?: number[];
  /** The analysis's criteria (its monitor and clock are given), or `false` for a replica that only follows. */
  analysis?: Omit<CanaryAnalysisOptions, 'monitor' | 'clock'> | false;
  monitor?: Omit<DeploymentMonitorOptions, 'clock'>;
  fleet?: Partial<Omit<FleetDeploymentOptions<CanaryDeployment>, 'storage' | 'name' | 'replicaId' | 'policy' | 'monitor' | 'analysis' | 'clock'>>;
}

export function canaryReplica(storage: StorageAdapter, clock: FakeClock, id: string, options: CanaryReplicaOptions = {}): CanaryReplica {
  const canary = new CanaryDeployment({ name: 'iris', stable: 1, canary: 2, steps: options.steps ?? [10, 50, 100], clock: clock.now });
  const monitor = new DeploymentMonitor({ ...options.monitor, clock: clock.now });
  const criteria = options.analysis ?? { minRequests: 100, maxErrorRate: 0.05 };
  const fleet = new FleetDeployment({
    storage,
    name: 'iris',
    replicaId: id,
    policy: canary,
    monitor,
    ...(criteria === false ? {} : { analysis: (merged: DeploymentMonitor, { policy }: { policy: CanaryDeployment }) => canaryAnalysis(policy, { ...criteria, monitor: merged, clock: clock.now }) }),
    intervalMs: NEVER,
    followMs: NEVER,
    ...options.fleet,
    clock: clock.now,
  });
  return { id, canary, monitor, fleet };
}
