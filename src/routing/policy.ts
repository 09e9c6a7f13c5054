/** What a policy is asked: who the request is for, and any override. */
export interface RouteContext {
  /** Stable id of the unit (user, session, device): the same id gets the same version on every replica. */
  unitId?: string;
  /** Force a variant by name (QA, debugging); an unknown name is a `ValidationError`. */
  force?: string;
  /** Blue-green only: ask for the idle (preview) slot instead of the active one. */
  preview?: boolean;
}

/**
 * Why a request was routed where it was, for logs and debugging. Policies use these values:
 * `'hash'` (sticky bucket of `unitId`), `'random'` (no `unitId`, drawn from `random`),
 * `'forced'` (`ctx.force`), `'static'` (the only version), `'active'` / `'preview'` (blue-green slot),
 * `'rollback'` (a rolled-back rollout sends everyone to stable), `'promoted'`, `'concluded'`
 * (an experiment's winner), `'explore'` / `'exploit'` (bandit), `'fallback'` (router could not load
 * the routed version).
 */
export type AssignmentReason =
  | 'hash'
  | 'random'
  | 'forced'
  | 'static'
  | 'active'
  | 'preview'
  | 'rollback'
  | 'promoted'
  | 'concluded'
  | 'explore'
  | 'exploit'
  | 'fallback';

/** The decision for one request. */
export interface Assignment {
  /** Registry version number to serve. */
  version: number;
  /** Name of the variant, slot or arm (`'stable'`, `'canary'`, `'blue'`, `'a'` …). */
  variant: string;
  reason: AssignmentReason;
  /**
   * The probability with which the policy chose this variant for a request like this one, in
   * (0, 1]: the canary's share (1 − share for stable), an A/B variant's weight × coverage (plus
   * the uncovered share for the control, whose fallback outside the coverage carries the same
   * number), ε-greedy's exact probability, Thompson sampling's
   * posterior probability that the arm is best (plus the explore floor). 1 when nothing was left
   * to chance (forced, static, a blue-green slot, a settled or concluded rollout, a fallback).
   * Across units it is the share of traffic the variant gets; for one `unitId` the hash makes the
   * choice sticky. Log it with the reward to evaluate any other policy offline (`offPolicyEstimate`).
   */
  propensity: number;

  /**
   * Set when the policy also wants this request mirrored, off the caller's path, to another
   * version (a shadow): the router runs it there after answering and hands both outputs to the
   * policy's `compare()`.
   */
  mirror?: { readonly version: number };
}

/** One version a policy may send requests to now, with its share of live traffic. */
export interface PolicyTraffic {
  version: number;
  /** Variant, slot or arm name (`'stable'`, `'canary'`, `'blue'`, `'shadow'` …). */
  variant: string;
  /**
   * Share of live requests it answers, in [0, 1]. A bandit reports its current expected share
   * (exploit and explore draws together); a shadow answers nobody (0) but receives `mirrorShare`
   * of the requests.
   */
  share: number;
  /** Shadow only: share of requests mirrored to it, in [0, 1]. */
  mirrorShare?: number;
}

/** Payload of every policy's `restored` event: its state was replaced by a snapshot. */
export interface PolicyRestoredEvent {
  /** Clock time of the restore, in ms. */
  at: number;
}

/**
 * What every routing policy implements, so a `ModelRouter` can drive any of them.
 * `route` is synchronous, does no I/O and, given a `unitId`, is a pure function of
 * (salt, unitId, weights).
 */
export interface RoutingPolicy {
  /** Decides which version serves this request. */
  route(ctx?: RouteContext): Assignment;
  /** The assignment to answer from when the routed version cannot be served (the stable / active / control version). */
  fallback(): Assignment;
  /** The policy's control state as a JSON-safe value, for persistence and sharing between replicas. */
  snapshot(): unknown;
  /** Replaces the control state with a validated snapshot; a bad one is a `ValidationError` and changes nothing. */
  restore(snapshot: unknown): void;
  /**
   * What traffic the policy sends where now, every variant with its share (for `router.versions()`
   * and `simulate()`). Optional for policies of your own: without it the router reports the
   * `fallback()` version with share 1.
   */
  traffic?(): PolicyTraffic[];
}

/**
 * A policy that mirrors requests (its assignments carry `mirror`) and wants the outputs: the router
 * calls `compare(primary, shadow)` after a mirrored call succeeds and `recordShadowError()` after
 * one fails.
 */
export interface MirroringPolicy extends RoutingPolicy {
  compare(primary: unknown, shadow: unknown): unknown;
  recordShadowError(): void;
}
