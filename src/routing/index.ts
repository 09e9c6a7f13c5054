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
