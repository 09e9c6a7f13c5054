export type { RouteContext, Assignment, AssignmentReason, RoutingPolicy } from './policy.js';
export {
  hashUnit,
  unitHasher,
  murmur3Utf8,
  normalizeWeights,
  bucketRanges,
  chooseBucket,
  LATEST_HASH_VERSION,
  type HashVersion,
  type UnitHasher,
  type BucketRange,
} from './hash.js';
export { sampleBeta, sampleGamma, sampleStandardNormal } from './sampling.js';
export {
  StaticPolicy,
  type StaticPolicyOptions,
  type StaticPolicyEvents,
  type StaticPinnedEvent,
  type StaticPolicySnapshot,
} from './static-policy.js';
export {
  BlueGreenSwitch,
  type BlueGreenSlot,
  type BlueGreenSwitchOptions,
  type BlueGreenState,
  type BlueGreenSwitchEvents,
  type BlueGreenDeployedEvent,
  type BlueGreenSwitchedEvent,
  type BlueGreenSnapshot,
} from './blue-green.js';
export {
  CanaryDeployment,
  type CanaryStatus,
  type CanaryAction,
  type CanaryHistoryEntry,
  type CanaryState,
  type CanaryDeploymentOptions,
  type CanaryDeploymentEvents,
  type CanaryStartedEvent,
  type CanarySteppedEvent,
  type CanaryPausedEvent,
  type CanaryRolledBackEvent,
  type CanaryPromotedEvent,
  type CanaryHistorySnapshotEntry,
  type CanarySnapshot,
} from './canary.js';
export {
  ShadowDeployment,
  type ShadowComparison,
  type ShadowAssignment,
  type ShadowDeploymentOptions,
  type ShadowReport,
  type ShadowStats,
  type ShadowDeploymentEvents,
  type ShadowMirrorChangedEvent,
  type ShadowStatsResetEvent,
  type ShadowSnapshot,
} from './shadow.js';
export {
  BanditPolicy,
  type BanditAlgorithm,
  type BanditArm,
  type BanditPolicyOptions,
  type BanditArmState,
  type BanditState,
  type BanditCounts,
  type BanditSnapshot,
  type BanditRewardedEvent,
  type BanditMergedEvent,
  type BanditPolicyEvents,
} from './bandit.js';
export * from './ab-test.js';
