/**
 * Fleet mode: deployment state shared by every replica in storage (revision compare-and-swap,
 * audit log) and followers that keep a live policy in step with it.
 *
 * @module
 */
export {
  DeploymentStore,
  type DeploymentStoreOptions,
  type DeploymentState,
  type AuditRecord,
  type TransitionInput,
  type StoredDeployment,
} from './deployment-store.js';
export {
  DeploymentFollower,
  type DeploymentFollowerOptions,
  type DeploymentFollowerEvents,
  type RestorablePolicy,
  type ChangeHints,
} from './deployment-follower.js';
