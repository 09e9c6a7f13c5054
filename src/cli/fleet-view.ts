// TEMPORARY until fleet's readFleetMonitors lands on main.
import { DeploymentMonitor } from '../monitor/deployment-monitor.js';
import type { StorageAdapter } from '../storage/storage-adapter.js';
import type { ReplicaStatus } from './status-view.js';

export async function readFleetView(_storage: StorageAdapter, _name: string, _now: number): Promise<{ merged: DeploymentMonitor; replicas: ReplicaStatus[] }> {
  return { merged: new DeploymentMonitor(), replicas: [] };
}
