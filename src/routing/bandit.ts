import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import { ValidationError, describeValue } from '../errors.js';
import { checkNumber, checkOneOf, checkVersion, type Clock, type RandomSource } from '../options.js';
import { checkArray, checkNonEmptyString, checkOptions, checkRecord, snapshotRecord, timeAndChance } from './checks.js';
import type { Assignment, PolicyRestoredEvent, PolicyTraffic, RouteContext, RoutingPolicy } from './policy.js';
import { sampleBeta, uniform } from './sampling.js';

/** How a {@link BanditPolicy} picks an arm. */
export type BanditAlgorithm = 'thompson' | 'epsilon-greedy';

const ALGORITHMS: readonly BanditAlgorithm[] = ['thompson', 'epsilon-greedy'];

/** One arm: a variant name and the registry version it serves. */
export interface BanditArm {
  variant: string;
  version: number;
}

/** Options of {@link BanditPolicy}. */
export interface BanditPolicyOptions {
  /** At least two arms with distinct variant names. */
  arms: readonly BanditArm[];
  /** `'thompson'` (default): Thompson sampling on Beta(1 + successes, 1 + failures); `'epsilon-greedy'`. */
  algorithm?: BanditAlgorithm;
  /** ε-greedy: share of requests that explore the other arms (default 0.1). */
  epsilon?: number;
  /** Share of traffic every arm keeps whatever the algorithm says (default 0.01; at most 1 / arms). */
  floor?: number;
  /** Name, for logs (default `'bandit'`). */
  name?: string;
  /**
   * This process's id in the shared counts (default: a random UUID). Replicas that
   * {@link BanditPolicy.merge} each other's snapshots must have distinct ids.
   */
  replicaId?: string;
  /** Time source for events, in ms (default `Date.now`). */
  clock?: Clock;
  /** Uniform [0, 1) source for every draw (default `Math.random`). */
  random?: RandomSource;
}

/** One arm's numbers, summed over every replica this policy knows of. */
export interface BanditArmState extends BanditArm {
  /** Sum of rewards (a success counts 1, a value r counts r). */
  successes: number;
  /** Sum of 1 − reward. */
  failures: number;
  /** Posterior mean of the reward, (1 + successes) / (2 + successes + failures). */
  mean: number;
}

/** What a {@link BanditPolicy} holds now. */
export interface BanditState {
  algorithm: BanditAlgorithm;
  epsilon: number;
  floor: number;
  arms: BanditArmState[];
  /** The arm with the highest posterior mean (ties: the first). */
  best: string;
}

/** Successes and failures per variant, as `[successes, failures]`. */
export type BanditCounts = Record<string, [successes: number, failures: number]>;

/** JSON-safe state of a {@link BanditPolicy}: configuration and every replica's counts. */
export interface BanditSnapshot {
  policy: 'bandit';
  specVersion: 1;
  name: string;
  algorithm: BanditAlgorithm;
  epsilon: number;
  floor: number;
  arms: BanditArm[];
  /** Per replica id, per variant; each replica's counts only grow, so merging takes the maximum. */
  counts: Record<string, BanditCounts>;
}

/** Payload of the `rewarded` event. */
export interface BanditRewardedEvent {
  variant: string;
  /** The reward, 0–1 (`true` is 1, `false` 0). */
  value: number;
  /** The arm's totals after the reward. */
  successes: number;
  failures: number;
  at: number;
}

/** Payload of the `merged` event. */
export interface BanditMergedEvent {
  /** Replica ids whose counts are now known. */
  replicas: string[];
  arms: BanditArmState[];
  at: number;
}

/** Events of {@link BanditPolicy}. */
export interface BanditPolicyEvents {
  /** {@link BanditPolicy.reward} recorded an outcome (only built when someone listens). */
  rewarded: (event: BanditRewardedEvent) => void;
  /** {@link BanditPolicy.merge} took in another replica's counts. */
  merged: (event: BanditMergedEvent) => void;
  /** {@link BanditPolicy.restore} replaced configuration and counts with a snapshot's. */
  restored: (event: PolicyRestoredEvent) => void;
}

interface Config {
  name: string;
  algorithm: BanditAlgorithm;
  epsilon: number;
  floor: number;
  arms: BanditArm[];
}

function checkArms(name: string, value: unknown): BanditArm[] {
  const arms = checkArray(name, value);
  if (arms.length < 2) throw new ValidationError(`${name} must hold at least two arms, got ${arms.length}`);
  const seen = new Set<string>();
  return arms.map((arm, i) => {
    const record = checkRecord(`${name}[${i}]`, arm);
    const variant = checkNonEmptyString(`${name}[${i}].variant`, record.variant);
    if (seen.has(variant)) throw new ValidationError(`${name}[${i}].variant must be unique, got '${variant}' twice`);
    seen.add(variant);
    return { variant, version: checkVersion(`${name}[${i}].version`, record.version) };
  });
}

function checkConfig(source: Record<string, unknown>, prefix: string, defaults: boolean): Config {
  const arms = checkArms(`${prefix}arms`, source.arms);
  const pick = (key: string, fallback: unknown): unknown => (defaults && source[key] === undefined ? fallback : source[key]);
  const floor = checkNumber(`${prefix}floor`, pick('floor', 0.01), { min: 0, max: 1 / arms.length });
  return {
    name: checkNonEmptyString(`${prefix}name`, pick('name', 'bandit')),
    algorithm: checkOneOf(`${prefix}algorithm`, pick('algorithm', 'thompson'), ALGORITHMS),
    epsilon: checkNumber(`${prefix}epsilon`, pick('epsilon', 0.1), { min: 0, max: 1 }),
    floor,
    arms,
  };
}

/**
 * Largest count of successes or failures an arm may have, per replica and summed over replicas:
 * 2^53, past which counts stop being exact and the posterior draw stops being finite-safe.
 */
const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/** Refuses counts whose sums over replicas would pass {@link MAX_COUNT}. */
function checkTotals(name: string, counts: Map<string, Float64Array>, arms: readonly BanditArm[]): void {
  const totals = new Float64Array(arms.length * 2);
  for (const row of counts.values()) for (let i = 0; i < row.length; i++) totals[i] = (totals[i] as number) + (row[i] as number);
  const at = totals.findIndex((t) => !(t <= MAX_COUNT));
  if (at >= 0) {
    throw new ValidationError(
      `${name}: arm '${arms[at >> 1]!.variant}' would have ${totals[at]} ${at % 2 === 0 ? 'successes' : 'failures'} summed over replicas, more than 2^53; nothing was changed`,
    );
  }
}

function checkCounts(name: string, value: unknown, arms: readonly BanditArm[]): Map<string, Float64Array> {
  const replicas = checkRecord(name, value);
  const out = new Map<string, Float64Array>();
  for (const [replica, countsValue] of Object.entries(replicas)) {
    const counts = checkRecord(`${name}.${replica}`, countsValue);
    const row = new Float64Array(arms.length * 2);
    for (const variant of Object.keys(counts)) {
      if (!arms.some((arm) => arm.variant === variant)) {
        throw new ValidationError(`${name}.${replica} has counts for '${variant}', which is not an arm (${arms.map((a) => a.variant).join(', ')})`);
      }
    }
    arms.forEach((arm, i) => {
      // Own keys only: an arm named 'constructor' must not find Object.prototype's.
      if (!Object.hasOwn(counts, arm.variant)) return;
      const pair = counts[arm.variant];
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new ValidationError(`${name}.${replica}.${arm.variant} must be [successes, failures], got ${describeValue(pair)}`);
      }
      row[2 * i] = checkNumber(`${name}.${replica}.${arm.variant}[0]`, pair[0], { min: 0, max: MAX_COUNT });
      row[2 * i + 1] = checkNumber(`${name}.${replica}.${arm.variant}[1]`, pair[1], { min: 0, max: MAX_COUNT });
    });
    out.set(replica, row);
  }
  return out;
}

/**
 * A multi-armed bandit over model versions: traffic shifts towards the version with the best
 * observed reward while every arm keeps at least `floor` of it. Thompson sampling draws from each
 * arm's Beta(1 + successes, 1 + failures) posterior and serves the highest draw; ε-greedy serves
 * the best posterior mean and explores the other arms with probability ε (Seldon's routers).
 * Counts are kept per replica so replicas can share them by exchanging snapshots
 * ({@link BanditPolicy.merge}) without double counting.
 *
 * Bandit routing is per request, not sticky: the point is to move traffic as evidence arrives,
 * so `unitId` is ignored.
 *
 * @example
 * ```ts
 * const bandit = new BanditPolicy({ arms: [{ variant: 'a', version: 1 }, { variant: 'b', version: 2 }] });
 * const { variant } = bandit.route();
 * bandit.reward(variant, clicked);          // true / false, or a value in [0, 1]
 * ```
 */
export class BanditPolicy extends EventEmitter<BanditPolicyEvents> implements RoutingPolicy {
  readonly #clock: Clock;
  readonly #random: RandomSource;
  /** This process's id in {@link BanditSnapshot.counts}. */
  readonly replicaId: string;
  #config: Config;
  #armIndex = new Map<string, number>();
  /** Per replica: [s0, f0, s1, f1, …] in arm order. */
  #counts = new Map<string, Float64Array>();
  #own!: Float64Array;
  /** Sums over replicas: [s0, f0, s1, f1, …]. */
  #totals!: Float64Array;
  #best = 0;
  #byReason!: { explore: Readonly<Assignment>[]; exploit: Readonly<Assignment>[]; forced: Readonly<Assignment>[] };
  #fallbackAssignment!: Readonly<Assignment>;
  /** Thompson: reward units counted when the propensities were last computed. */
  #propensityCount = -1;

  constructor(options: BanditPolicyOptions) {
    super();
    const opts = checkOptions<BanditPolicyOptions>('BanditPolicy', options);
    ({ clock: this.#clock, random: this.#random } = timeAndChance(opts));
    this.#config = checkConfig(opts as unknown as Record<string, unknown>, '', true);
    this.replicaId = opts.replicaId === undefined ? randomUUID() : checkNonEmptyString('replicaId', opts.replicaId);
    this.#install(this.#config, new Map());
  }

  /** The arms with their summed counts, and the current best. */
  get state(): BanditState {
    const { algorithm, epsilon, floor } = this.#config;
    return { algorithm, epsilon, floor, arms: this.#armStates(), best: this.#config.arms[this.#best]?.variant as string };
  }

  /**
   * Picks an arm. First a `floor · arms` share of requests is spread evenly over all arms (reason
   * `'explore'`); the rest follow the algorithm: Thompson serves the arm with the highest
   * posterior draw, ε-greedy the best posterior mean or, with probability ε, one of the others.
   * Reason `'exploit'` when the served arm is the best by posterior mean, `'explore'` otherwise.
   * `ctx.force` names an arm (reason `'forced'`).
   */
  route(ctx?: RouteContext): Assignment {
    if (ctx?.force !== undefined) {
      const index = this.#armIndex.get(ctx.force);
      if (index === undefined) {
        throw new ValidationError(`force must name an arm (${this.#config.arms.map((a) => `'${a.variant}'`).join(', ')}), got ${describeValue(ctx.force)}`);
      }
      return this.#byReason.forced[index] as Readonly<Assignment>;
    }
    const { floor, algorithm, epsilon } = this.#config;
    const k = this.#config.arms.length;
    const u = uniform(this.#random);
    if (u < floor * k) return this.#label(Math.min(k - 1, Math.floor(u / floor)));
    if (algorithm === 'thompson') {
      const totals = this.#totals;
      let chosen = 0;
      let bestDraw = -1;
      for (let i = 0; i < k; i++) {
        const draw = sampleBeta(1 + (totals[2 * i] as number), 1 + (totals[2 * i + 1] as number), this.#random);
        if (draw > bestDraw) {
          bestDraw = draw;
          chosen = i;
        }
      }
      return this.#label(chosen);
    }
    if (uniform(this.#random) < epsilon) {
      const other = Math.min(k - 2, Math.floor(uniform(this.#random) * (k - 1)));
      return this.#label(other >= this.#best ? other + 1 : other);
    }
    return this.#label(this.#best);
  }

  /** The first arm, reason `'fallback'`. */
  fallback(): Assignment {
    return this.#fallbackAssignment;
  }

  /**
   * Every arm with its share of `route()` calls now: its propensity (the `floor` every arm keeps,
   * plus what the algorithm gives it; ε-greedy's exact, Thompson's computed from the posteriors).
   */
  traffic(): PolicyTraffic[] {
    return this.#config.arms.map((arm, i) => ({ version: arm.version, variant: arm.variant, share: this.#label(i).propensity }));
  }

  /**
   * Records an outcome for `variant`: `true`/`false`, or a reward in [0, 1] that counts as that
   * fraction of a success (and the rest as a failure).
   */
  reward(variant: string, outcome: boolean | number): void {
    const index = this.#armIndex.get(variant);
    if (index === undefined) {
      throw new ValidationError(`variant must name an arm (${this.#config.arms.map((a) => `'${a.variant}'`).join(', ')}), got ${describeValue(variant)}`);
    }
    const value = typeof outcome === 'boolean' ? (outcome ? 1 : 0) : checkNumber('outcome', outcome, { min: 0, max: 1 });
    this.#own[2 * index] = (this.#own[2 * index] as number) + value;
    this.#own[2 * index + 1] = (this.#own[2 * index + 1] as number) + 1 - value;
    this.#totals[2 * index] = (this.#totals[2 * index] as number) + value;
    this.#totals[2 * index + 1] = (this.#totals[2 * index + 1] as number) + 1 - value;
    this.#updateBest();
    if (this.listenerCount('rewarded') > 0) {
      this.emit('rewarded', {
        variant,
        value,
        successes: this.#totals[2 * index] as number,
        failures: this.#totals[2 * index + 1] as number,
        at: this.#clock(),
      });
    }
  }

  /**
   * Takes in the counts of another replica's snapshot (same arms), keeping for each replica the
   * larger of the two counts it knows: merging the same snapshot twice, or in any order, gives
   * the same totals. Emits `merged`.
   */
  merge(snapshot: unknown): void {
    const record = snapshotRecord(snapshot, 'bandit');
    const arms = checkArms('snapshot.arms', record.arms);
    const mine = this.#config.arms;
    if (arms.length !== mine.length || arms.some((arm, i) => arm.variant !== mine[i]?.variant || arm.version !== mine[i]?.version)) {
      throw new ValidationError(
        `snapshot.arms must be this policy's arms (${mine.map((a) => `${a.variant}=v${a.version}`).join(', ')}), got ${arms.map((a) => `${a.variant}=v${a.version}`).join(', ')}`,
      );
    }
    const incoming = checkCounts('snapshot.counts', record.counts, arms);
    const merged = new Map(this.#counts);
    for (const [replica, row] of incoming) {
      const current = merged.get(replica);
      merged.set(replica, current === undefined ? row : row.map((count, i) => Math.max(current[i] as number, count)));
    }
    checkTotals('merge', merged, arms);
    // Known rows are overwritten in place, so this replica's own row stays the array reward() adds to.
    for (const [replica, row] of merged) {
      const current = this.#counts.get(replica);
      if (current === undefined) this.#counts.set(replica, row);
      else current.set(row);
    }
    this.#recount();
    this.emit('merged', { replicas: [...this.#counts.keys()], arms: this.#armStates(), at: this.#clock() });
  }

  snapshot(): BanditSnapshot {
    const { name, algorithm, epsilon, floor, arms } = this.#config;
    const counts: Record<string, BanditCounts> = {};
    for (const [replica, row] of this.#counts) {
      const perArm: BanditCounts = {};
      arms.forEach((arm, i) => {
        perArm[arm.variant] = [row[2 * i] as number, row[2 * i + 1] as number];
      });
      counts[replica] = perArm;
    }
    return { policy: 'bandit', specVersion: 1, name, algorithm, epsilon, floor, arms: arms.map((a) => ({ ...a })), counts };
  }

  /** Replaces configuration and counts with a snapshot's; this replica keeps its own `replicaId`. */
  restore(snapshot: unknown): void {
    const record = snapshotRecord(snapshot, 'bandit');
    const config = checkConfig(record, 'snapshot.', false);
    const counts = checkCounts('snapshot.counts', record.counts, config.arms);
    checkTotals('restore', counts, config.arms);
    this.#install(config, counts);
    this.emit('restored', { at: this.#clock() });
  }

  #install(config: Config, counts: Map<string, Float64Array>): void {
    this.#config = config;
    this.#armIndex = new Map(config.arms.map((arm, i) => [arm.variant, i]));
    this.#counts = counts;
    let own = counts.get(this.replicaId);
    if (own === undefined) {
      own = new Float64Array(config.arms.length * 2);
      counts.set(this.replicaId, own);
    }
    this.#own = own;
    const forced = (reason: Assignment['reason']) =>
      config.arms.map((arm) => Object.freeze({ version: arm.version, variant: arm.variant, reason, propensity: 1 }));
    this.#byReason = { explore: [], exploit: [], forced: forced('forced') };
    this.#fallbackAssignment = forced('fallback')[0] as Readonly<Assignment>;
    this.#propensityCount = -1;
    if (config.algorithm === 'epsilon-greedy') this.#labelArms(epsilonGreedyPropensities(config));
    this.#recount();
  }

  /** Rebuilds the explore / exploit assignments with each arm's propensity: `[asBest, asOther]` per arm. */
  #labelArms(propensities: ReadonlyArray<readonly [asBest: number, asOther: number]>): void {
    const arms = this.#config.arms;
    this.#byReason.exploit = arms.map((arm, i) =>
      Object.freeze({ version: arm.version, variant: arm.variant, reason: 'exploit' as const, propensity: (propensities[i] as readonly number[])[0] as number }),
    );
    this.#byReason.explore = arms.map((arm, i) =>
      Object.freeze({ version: arm.version, variant: arm.variant, reason: 'explore' as const, propensity: (propensities[i] as readonly number[])[1] as number }),
    );
  }

  /**
   * Thompson: the chance each arm is served, computed from the posteriors (not sampled) whenever
   * the reward count has grown by 2 % since the last computation, so a logged propensity is never
   * more than 2 % of the evidence behind, and route() never pays for it (reward() does, about 400
   * grid integrals over the first 100 000 rewards).
   */
  #refreshThompsonPropensities(): void {
    let count = 0;
    for (let i = 0; i < this.#totals.length; i++) count += this.#totals[i] as number;
    if (this.#propensityCount >= 0 && count - this.#propensityCount < Math.max(1, count * PROPENSITY_REFRESH)) return;
    this.#propensityCount = count;
    const { floor, arms } = this.#config;
    const wins = thompsonWinProbabilities(this.#totals, arms.length);
    this.#labelArms(
      Array.from(wins, (win) => {
        const p = floor + (1 - floor * arms.length) * win;
        return [p, p] as const;
      }),
    );
  }

  #recount(): void {
    const totals = new Float64Array(this.#config.arms.length * 2);
    for (const row of this.#counts.values()) for (let i = 0; i < row.length; i++) totals[i] = (totals[i] as number) + (row[i] as number);
    this.#totals = totals;
    this.#updateBest();
  }

  #updateBest(): void {
    let best = 0;
    let bestMean = -1;
    for (let i = 0; i < this.#config.arms.length; i++) {
      const s = this.#totals[2 * i] as number;
      const f = this.#totals[2 * i + 1] as number;
      const mean = (1 + s) / (2 + s + f);
      if (mean > bestMean) {
        bestMean = mean;
        best = i;
      }
    }
    this.#best = best;
    if (this.#config.algorithm === 'thompson') this.#refreshThompsonPropensities();
  }

  #label(index: number): Assignment {
    return (index === this.#best ? this.#byReason.exploit[index] : this.#byReason.explore[index]) as Readonly<Assignment>;
  }

  #armStates(): BanditArmState[] {
    return this.#config.arms.map((arm, i) => {
      const successes = this.#totals[2 * i] as number;
      const failures = this.#totals[2 * i + 1] as number;
      return { ...arm, successes, failures, mean: (1 + successes) / (2 + successes + failures) };
    });
  }
}

/** ε-greedy's exact propensities: the floor, plus 1 − ε of the rest for the best arm and ε / (k − 1) for each other. */
function epsilonGreedyPropensities(config: Config): Array<readonly [number, number]> {
  const k = config.arms.length;
  const rest = 1 - config.floor * k;
  const asBest = config.floor + rest * (k === 1 ? 1 : 1 - config.epsilon);
  const asOther = config.floor + (k === 1 ? 0 : (rest * config.epsilon) / (k - 1));
  return config.arms.map(() => [asBest, asOther] as const);
}

/** Thompson propensities are recomputed once the reward count has grown by this share since the last time. */
const PROPENSITY_REFRESH = 0.02;
/** Grid points of the Thompson integral. */
const THOMPSON_GRID = 512;
/** Smallest propensity reported, so an arm the posterior all but rules out still has a usable weight. */
const MIN_PROPENSITY = 1e-12;

/**
 * P(arm i has the highest draw) for independent Beta(1 + sᵢ, 1 + fᵢ) posteriors:
 * ∫ pdfᵢ(x) Πⱼ≠ᵢ CDFⱼ(x) dx, by the midpoint rule on a grid spanning every posterior's
 * mean ± 10 sd, each density normalised on the grid (no Beta function needed). @internal
 */
export function thompsonWinProbabilities(totals: ArrayLike<number>, k: number): Float64Array {
  const a = new Float64Array(k);
  const b = new Float64Array(k);
  let lo = 1;
  let hi = 0;
  for (let i = 0; i < k; i++) {
    a[i] = 1 + (totals[2 * i] as number);
    b[i] = 1 + (totals[2 * i + 1] as number);
    const n = (a[i] as number) + (b[i] as number);
    const mean = (a[i] as number) / n;
    const sd = Math.sqrt(((a[i] as number) * (b[i] as number)) / (n * n * (n + 1)));
    lo = Math.min(lo, mean - 10 * sd);
    hi = Math.max(hi, mean + 10 * sd);
  }
  lo = Math.max(0, lo);
  hi = Math.min(1, hi);
  const step = (hi - lo) / THOMPSON_GRID;
  const density = new Float64Array(k * THOMPSON_GRID);
  for (let i = 0; i < k; i++) {
    let top = -Infinity;
    for (let g = 0; g < THOMPSON_GRID; g++) {
      const x = lo + (g + 0.5) * step;
      const log = ((a[i] as number) - 1) * Math.log(x) + ((b[i] as number) - 1) * Math.log1p(-x);
      density[i * THOMPSON_GRID + g] = log;
      if (log > top) top = log;
    }
    let sum = 0;
    for (let g = 0; g < THOMPSON_GRID; g++) sum += density[i * THOMPSON_GRID + g] = Math.exp((density[i * THOMPSON_GRID + g] as number) - top);
    for (let g = 0; g < THOMPSON_GRID; g++) density[i * THOMPSON_GRID + g] = (density[i * THOMPSON_GRID + g] as number) / sum;
  }
  const wins = new Float64Array(k);
  const below = new Float64Array(k);
  for (let g = 0; g < THOMPSON_GRID; g++) {
    for (let i = 0; i < k; i++) {
      let others = 1;
      for (let j = 0; j < k; j++) if (j !== i) others *= (below[j] as number) + (density[j * THOMPSON_GRID + g] as number) / 2;
      wins[i] = (wins[i] as number) + (density[i * THOMPSON_GRID + g] as number) * others;
    }
    for (let i = 0; i < k; i++) below[i] = (below[i] as number) + (density[i * THOMPSON_GRID + g] as number);
  }
  let total = 0;
  for (let i = 0; i < k; i++) total += wins[i] as number;
  for (let i = 0; i < k; i++) wins[i] = Math.max(MIN_PROPENSITY, (wins[i] as number) / total);
  return wins;
}
