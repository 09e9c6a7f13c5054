import { EventEmitter } from 'eventemitter3';
import type { ABTestAnalysisReport } from '../analysis/ab-test-analysis.js';
import type { AnalysisReport } from '../analysis/types.js';
import { InvalidStateError, PreconditionFailedError, ValidationError, describeValue } from '../errors.js';
import { DeploymentMonitor } from '../monitor/deployment-monitor.js';
import { type Clock, type RandomSource, type TimerScheduler, checkFunction, checkNumber, checkTimers } from '../options.js';
import { ABTestController } from '../routing/ab-test.js';
import type { ExperimentResults } from '../routing/ab-test-types.js';
import type { StorageAdapter } from '../storage/storage-adapter.js';
import { decisionCopyOf } from './decision-copy.js';
import { type ChangeHints, DeploymentFollower } from './deployment-follower.js';
import { DeploymentLease, type LeaseRecord } from './deployment-lease.js';
import { type DeploymentState, DeploymentStore, type StoredDeployment } from './deployment-store.js';
import { type ReadHeartbeat, mergeHeartbeats, readHeartbeats } from './fleet-monitors.js';
import { Lane } from './lane.js';
import { MonitorHeartbeat } from './monitor-heartbeat.js';
import { checkDeploymentName, checkKeySegment } from './names.js';
import { experimentView, fleetExperimentResults, mergeBanditCounts, observationsOf, restoreKeepingOwnCounts, syncExperimentView } from './shared-counts.js';

/**
 * A policy fleet mode can share: its plain-JSON state and its transition events (every routing
 * policy of this package; `emit` replays a transition decided on the decision copy once it is saved).
 */
export interface FleetPolicy extends Pick<EventEmitter<string>, 'on' | 'off' | 'emit'> {
  snapshot(): unknown;
  restore(snapshot: unknown): void;
}

/**
 * What fleet mode drives of an analysis (`CanaryAnalysis`, `BlueGreenAnalysis`, the two-phase
 * `blueGreenAnalysis()`, …), read structurally. `counters` is plain data (`AnalysisCounters`, or
 * `BlueGreenAnalysesCounters` for both blue-green phases), stored in the deployment state and the
 * lease and given back to `restoreCounters` as it was read.
 */
export interface FleetAnalysis<R extends FleetReport = AnalysisReport> {
  analyze(): Promise<R>;
  readonly settled: boolean;
  readonly intervalMs?: number;
  readonly counters?: unknown;
  restoreCounters?(counters: unknown): void;
  // NoInfer: the report type is inferred from analyze() alone, not from the emitter's generic on/off.
  on(event: 'analysis', listener: (report: NoInfer<R>) => void): unknown;
  off(event: 'analysis', listener: (report: NoInfer<R>) => void): unknown;
}

/** What one run of a fleet's analysis reports: a rollout analysis's report, or an `ABTestAnalysis`'. */
export type FleetReport = AnalysisReport | ABTestAnalysisReport;

/** What the `analysis` factory of {@link FleetDeploymentOptions} is given beside the merged monitor. */
export interface FleetAnalysisContext<P extends FleetPolicy = FleetPolicy> {
  /**
   * The decision copy of the policy, to compose a rollout analysis on (`canaryAnalysis(policy, …)`):
   * its transitions are saved before the live policy takes them. Never compose on the live policy.
   */
  policy: P;
  /**
   * With an `ABTestController` policy: the fleet's view of its experiments (see
   * {@link FleetDeployment.fleetExperiments}), to compose an `ABTestAnalysis` on; else `undefined`.
   */
  experiments: ABTestController | undefined;
}

/** Options of {@link FleetDeployment}. */
export interface FleetDeploymentOptions<P extends FleetPolicy = FleetPolicy, R extends FleetReport = AnalysisReport> {
  storage: StorageAdapter;
  /** The deployment's name: `deployments/<name>.json`, `monitors/<name>/…`. */
  name: string;
  /** This replica's id, unique in the fleet (a pod name): the audit's `by`, the heartbeat's key. */
  replicaId: string;
  /** The live policy the router routes with: one of this package's routing policies. */
  policy: P;
  /** The monitor this replica's router records into; its snapshot is this replica's heartbeat. */
  monitor: DeploymentMonitor;
  /**
   * Composes the analysis on the fleet's merged monitor and on the **decision copy** of the
   * policy (`context.policy`), never on the live one:
   * `(monitor, { policy }) => canaryAnalysis(policy, { monitor, maxErrorRate: 0.02 })`. The copy is
   * a second instance of the live policy's class that holds the stored state; the analysis'
   * transitions happen on it, are saved, and reach the live policy (with their usual events) only
   * once the save has landed. With an `ABTestController` policy, compose on the fleet's view of its
   * experiments instead (e.g.
   * `(monitor, { experiments }) => new ABTestAnalysis(experiments!, 'ranker', { monitor, guardrails })`).
   * Without it this replica follows, publishes and records the host's transitions, and judges nothing.
   */
  analysis?: (fleetMonitor: DeploymentMonitor, context: FleetAnalysisContext<P>) => FleetAnalysis<R>;
  /** Time between analysis runs (ms); default the analysis' own `intervalMs`, else 60 000. */
  intervalMs?: number;
  /** Time between heartbeats (ms); default `intervalMs`. */
  heartbeatMs?: number;
  /** A heartbeat older than this is left out of the merge (ms); default 3 × the replica's heartbeat interval. */
  maxAgeMs?: number;
  /** Re-read interval of the follower (ms, default 5 000, jittered ±20 %). */
  followMs?: number;
  /** How long a lease renewal holds (ms); default 3 × `intervalMs`. */
  leaseTtlMs?: number;
  /** Change hints (PostgreSQL's `storage.watch()`): follow at once instead of at the next poll. */
  hints?: ChangeHints;
  /** Time source of the lease, the heartbeats, the audit and the decision copy (default `Date.now`). */
  clock?: Clock;
  /** Uniform [0, 1) source of the follower's jitter (default `Math.random`). */
  random?: RandomSource;
  /**
   * The timers of every loop this replica runs — the analysis turns, the heartbeats, the
   * follower's jittered re-reads (default the global ones, unref'd). Pass a `FakeClock`, with its
   * `now` as `clock`, and a test watches them all happen in order as it advances fake time; lease
   * expiry follows `clock`.
   */
  timers?: TimerScheduler;
}

/** How much of the fleet a verdict covered. */
export interface FleetCoverage {
  /** Fresh replicas merged. */
  replicas: number;
  /** Their ids. */
  replicaIds: string[];
  /** Replicas whose heartbeat was stale and left out. */
  stale: string[];
  /** Requests in the merged snapshots, every version, over the replicas' lifetimes. */
  requests: number;
}

/** An analysis run of the fleet: the report and the replicas and requests it covered. */
export interface FleetAnalysisReport<R extends FleetReport = AnalysisReport> extends FleetCoverage {
  report: R;
}

/** A transition of the shared state, as this replica saw it land. */
export interface FleetTransitionEvent {
  action: string;
  revision: number;
  by: string;
  from: string | null;
  to: string | null;
  reason: string | null;
  numbers: Record<string, number> | null;
}

/** Events of {@link FleetDeployment}. */
export interface FleetDeploymentEvents<R extends FleetReport = AnalysisReport> {
  /**
   * A transition of this replica (its host's or its analysis') landed in storage. One decided on
   * the decision copy has just been applied to the live policy, whose own event came first.
   */
  transitioned: (event: FleetTransitionEvent) => void;
  /** Another replica's newer revision was applied to the live policy (and the analysis counters). */
  applied: (event: { revision: number; previous: number; by: string; at: string }) => void;
  /**
   * A local transition did not land because the state it was built on is no longer the stored one:
   * it lost its compare-and-swap (another replica moved first), or this replica moved on before
   * its turn came (a newer revision applied, or its own decision saved ahead of a verb called on
   * the live policy). The live policy and the decision copy now hold the stored state. Local
   * changes built on it were dropped too, without an event of their own.
   */
  superseded: (event: { action: string; revision: number; by: string }) => void;
  /**
   * A local transition could not be saved (storage failed). One decided on the decision copy never
   * reached the live policy; a verb called on the live policy was undone (to the stored state, or,
   * when storage could not even be read, at the next re-read).
   */
  transitionFailed: (event: { action: string; error: unknown }) => void;
  /** An analysis run on the merged monitor, by this replica while it held the lease. */
  analysis: (event: FleetAnalysisReport<R>) => void;
  /** This replica took the analysis lease (`took`: the record it replaced) or lost it. */
  lease: (event: { held: boolean; holder: string | undefined; term: number | undefined }) => void;
  /** Something on the timer failed; the next interval tries again. */
  error: (event: { error: unknown; during: 'heartbeat' | 'follow' | 'lease' | 'merge' | 'analysis' }) => void;
}

/** Policy events that are transitions of the shared state, and the audit action each becomes. */
const TRANSITIONS: Readonly<Record<string, string>> = {
  started: 'start',
  stepped: 'step',
  paused: 'pause',
  resumed: 'resume',
  promoted: 'promote',
  rolledBack: 'rollback',
  aborted: 'abort',
  deployed: 'deploy',
  switched: 'switch',
  created: 'createExperiment',
  concluded: 'conclude',
  pinned: 'pin',
  mirrorChanged: 'mirror',
};

/** A state the live policy or the decision copy holds: one read from storage, or a local transition built on one. */
type StateToken = StoredDeployment | PendingTransition;

/** A local transition on its way to storage. */
interface PendingTransition {
  action: string;
  /** The policy event that made it, and its payload: replayed on the live policy once it lands. */
  event: string;
  payload: unknown;
  /** `decision`: made on the decision copy (the analysis, `transition()`); `live`: a verb called on the live policy. */
  origin: 'decision' | 'live';
  /** The state it was built on: it is saved only while that is the state stored. */
  parent: StateToken | undefined;
  policy: unknown;
  from: string | null;
  to: string | null;
  reason: string | null;
  numbers: Record<string, number> | null;
  analysis: { counters: unknown } | null;
  /** Set when it did not land: what `transition()` rejects with, for it and for every transition built on it. */
  failure: unknown;
  /** The `transition()` call waiting on it, if any. */
  waiting?: { resolve(event: FleetTransitionEvent): void; reject(error: unknown): void };
}

/**
 * One replica's part in a fleet-wide rollout. It owns, for this replica:
 * - the **follower**: newer revisions of `deployments/<name>.json` are applied to the live policy
 *   and to the analysis counters (polling with jitter, PostgreSQL NOTIFY as a hint);
 * - the **transitions**, saved before they are applied: the analysis decides on a *decision
 *   copy* of the policy (`policy` in the `analysis` factory's context), and so does the host
 *   through {@link FleetDeployment.transition}; each transition is a `DeploymentStore.transition()`
 *   from the revision this replica holds, and only once it has landed is the live policy — the one
 *   the router reads — restored to the saved state, with the policy's own event. A lost
 *   compare-and-swap leaves the live policy as it was (apart from taking the winner's state),
 *   resets the copy and emits `superseded`. A verb called on the live policy itself
 *   (`canary.rollback()`) still works, applied first and saved after, as without a fleet;
 * - the **heartbeat**: its monitor snapshot (and a bandit's or A/B controller's own counts) under
 *   `monitors/<name>/<replicaId>.json`;
 * - the **analysis loop**: while it holds the lease `deployments/<name>/lease.json` it judges the
 *   merged monitor of every fresh replica (and, for an A/B controller, the fleet's merged results:
 *   {@link FleetDeployment.fleetExperiments}), one run per interval across the fleet, and hands its
 *   counters on through the lease when another replica takes over.
 * `route()` never waits on any of it: the policy is read in memory and every timer is unref'd
 * (or, with `timers`, a `FakeClock`'s: a test then drives every loop by advancing fake time).
 *
 * @example
 * ```ts
 * const canary = new CanaryDeployment({ name: 'iris', stable: 1, canary: 2, steps: [5, 25, 50, 100] });
 * const monitor = new DeploymentMonitor();
 * const fleet = new FleetDeployment({
 *   storage, name: 'iris', replicaId: process.env.HOSTNAME!, policy: canary, monitor,
 *   // composed on the merged monitor and on the decision copy the fleet hands it, not on `canary`
 *   analysis: (merged, { policy: decision }) => canaryAnalysis(decision, { monitor: merged, minRequests: 200, maxErrorRate: 0.02, intervalMs: 30_000 }),
 * });
 * fleet.on('superseded', (e) => log.info('another replica moved first', e));
 * await fleet.start();
 * const router = new ModelRouter({ registry, model: 'iris', policy: canary, monitor });
 * // on one replica, or from the CLI: every replica follows once it is stored
 * const { revision } = await fleet.transition((policy) => policy.start());
 * ```
 */
export class FleetDeployment<P extends FleetPolicy = FleetPolicy, R extends FleetReport = AnalysisReport> extends EventEmitter<FleetDeploymentEvents<R>> {
  readonly name: string;
  readonly replicaId: string;
  /** The shared state's store. */
  readonly store: DeploymentStore;
  /** The fleet's merged monitor the analysis judges, rebuilt from the heartbeats before each run. */
  readonly fleetMonitor: DeploymentMonitor;
  /**
   * With an `ABTestController` policy: the fleet's view of its experiments an `ABTestAnalysis` is
   * composed on — the shared state (experiments, conclusions, pins) with every fresh replica's
   * results added once, rebuilt before each run while this replica holds the lease, its sequential
   * looks kept across runs. A conclusion reached on it is made on the decision copy and, once
   * saved, reaches the live controller as one `conclude` transition. `undefined` for other policies.
   */
  readonly fleetExperiments: ABTestController | undefined;
  /** The analysis composed on {@link FleetDeployment.fleetMonitor} and the decision copy (or the experiments' view), if any. */
  readonly analysis: FleetAnalysis<R> | undefined;
  readonly intervalMs: number;
  readonly #storage: StorageAdapter;
  readonly #policy: P;
  /** The copy decisions are made on: the stored state plus the local transitions on their way. */
  readonly #decision: P;
  readonly #clock: Clock;
  readonly #timers: TimerScheduler;
  readonly #maxAgeMs: number | undefined;
  readonly #lane = new Lane();
  readonly #follower: DeploymentFollower;
  readonly #heartbeat: MonitorHeartbeat;
  readonly #lease: DeploymentLease;
  readonly #listeners: Array<[source: P, event: string, listener: (event: unknown) => void]> = [];
  #timer: unknown;
  #ticking: Promise<void> | undefined;
  #started = false;
  /** The state storage holds, as far as this replica knows (`undefined`: unknown, storage unreadable). */
  #stored: StateToken | undefined;
  /** The state the live policy holds, and its summary (the `from` of a verb called on it). */
  #liveHead: StateToken | undefined;
  #liveSummary: string | null = null;
  /** The state the decision copy holds, and its summary (the `from` of the next decision). */
  #decisionHead: StateToken | undefined;
  #decisionSummary: string | null = null;
  /** The payload of the event being replayed: the fleet's own listeners let it pass. */
  #replayed: unknown;
  /** Collects the decisions a `transition()` callback makes. */
  #collecting: PendingTransition[] | undefined;
  /** The analysis report whose decision is being acted on right now (same tick as its event). */
  #deciding: { report: FleetReport; coverage: FleetCoverage } | undefined;
  #coverage: FleetCoverage = { replicas: 0, replicaIds: [], stale: [], requests: 0 };
  #heartbeats: readonly ReadHeartbeat[] = [];
  #leaseHolder: string | undefined;

  constructor(options: FleetDeploymentOptions<P, R>) {
    super();
    if (typeof options !== 'object' || options === null || typeof options.storage?.put !== 'function') {
      throw new ValidationError(`FleetDeployment options must have a storage adapter, got ${describeValue(options)}`);
    }
    const { policy, monitor } = options;
    for (const method of ['snapshot', 'restore', 'on', 'off', 'emit'] as const) {
      if (typeof (policy as Partial<FleetPolicy> | undefined)?.[method] !== 'function') {
        throw new ValidationError(`FleetDeployment policy must be a routing policy (with ${method}()), got ${describeValue(policy)}`);
      }
    }
    if (!(monitor instanceof DeploymentMonitor)) {
      throw new ValidationError(`FleetDeployment monitor must be the DeploymentMonitor the router records into, got ${describeValue(monitor)}`);
    }
    this.#storage = options.storage;
    this.name = checkDeploymentName(options.name);
    this.replicaId = checkKeySegment('replicaId', options.replicaId);
    this.#policy = policy;
    this.#clock = options.clock === undefined ? Date.now : checkFunction<Clock>('clock', options.clock);
    this.#timers = checkTimers('timers', options.timers);
    this.#decision = decisionCopyOf(policy, this.#clock);
    this.store = new DeploymentStore({ storage: this.#storage, clock: this.#clock });
    this.fleetMonitor = new DeploymentMonitor({
      windowMs: monitor.windowMs,
      buckets: monitor.buckets,
      relativeAccuracy: monitor.relativeAccuracy,
      maxVersions: monitor.maxVersions,
      clock: monitor.clock,
    });
    this.fleetExperiments = policy instanceof ABTestController ? experimentView(policy, this.#clock) : undefined;
    const compose = options.analysis === undefined ? undefined : checkFunction<NonNullable<FleetDeploymentOptions<P, R>['analysis']>>('analysis', options.analysis);
    // Every analysis follows its policy's `restored`: one that did on the live policy was composed on the wrong one.
    const steeringLive = () => (policy as { listenerCount?(event: string): number }).listenerCount?.('restored') ?? 0;
    const before = steeringLive();
    this.analysis = compose?.(this.fleetMonitor, { policy: this.#decision, experiments: this.fleetExperiments });
    if (this.analysis !== undefined && typeof this.analysis.analyze !== 'function') {
      throw new ValidationError(`analysis must return an analysis composed on the monitor it is given (with analyze()), got ${describeValue(this.analysis)}`);
    }
    if (steeringLive() > before) {
      throw new ValidationError(
        'analysis must compose on the decision copy it is given in its context, `(monitor, { policy }) => canaryAnalysis(policy, …)`, not on the live policy: the fleet saves a decision before the live policy takes it',
      );
    }
    this.intervalMs = checkNumber('intervalMs', options.intervalMs ?? this.analysis?.intervalMs ?? 60_000, { min: 1 });
    const heartbeatMs = checkNumber('heartbeatMs', options.heartbeatMs ?? this.intervalMs, { min: 1 });
    this.#maxAgeMs = options.maxAgeMs === undefined ? undefined : checkNumber('maxAgeMs', options.maxAgeMs, { min: 0 });
    const leaseTtlMs = checkNumber('leaseTtlMs', options.leaseTtlMs ?? 3 * this.intervalMs, { min: 1 });
    this.#follower = new DeploymentFollower({
      store: this.store,
      name: this.name,
      // The copy first: it checks the snapshot as the live policy would, so a bad one changes neither.
      policy: {
        restore: (snapshot) => {
          this.#decision.restore(snapshot);
          restoreKeepingOwnCounts(this.#policy, snapshot);
        },
      },
      intervalMs: checkNumber('followMs', options.followMs ?? 5_000, { min: 1 }),
      hints: options.hints,
      random: options.random,
      timers: this.#timers,
      serialize: (job) => this.#lane.run(job),
    });
    this.#follower.on('applied', (e) => {
      this.#restoreCounters(e.state.analysis);
      this.#holdStored(this.#follower.held);
      this.emit('applied', { revision: e.revision, previous: e.previous, by: e.by, at: e.at });
    });
    this.#follower.on('error', (e) => this.emit('error', { error: e.error, during: 'follow' }));
    this.#heartbeat = new MonitorHeartbeat({
      storage: this.#storage,
      deployment: this.name,
      replicaId: this.replicaId,
      monitor,
      intervalMs: heartbeatMs,
      observations: () => observationsOf(this.#policy),
      clock: this.#clock,
      timers: this.#timers,
    });
    this.#heartbeat.on('error', (e) => this.emit('error', { error: e.error, during: 'heartbeat' }));
    this.#lease = new DeploymentLease({ storage: this.#storage, deployment: this.name, holder: this.replicaId, ttlMs: leaseTtlMs, clock: this.#clock });
    this.analysis?.on('analysis', this.#onReport);
  }

  /** The revision the live policy holds (0 before `start()`). */
  get revision(): number {
    return this.#follower.revision;
  }

  /** The stored state the live policy holds. */
  get state(): DeploymentState | undefined {
    return this.#follower.held?.state;
  }

  /** Whether this replica held the analysis lease at its last try. */
  get leader(): boolean {
    return this.#lease.held;
  }

  /** What the last merge of heartbeats covered. */
  get coverage(): FleetCoverage {
    return this.#coverage;
  }

  /**
   * Joins the fleet: reads the stored state and applies it to the live policy (or, when the
   * deployment does not exist yet, creates revision 1 from the policy's snapshot), then records
   * every later transition of the policy, follows the others', publishes heartbeats and runs the
   * analysis loop. Transitions made before `start()` are not recorded: the stored state wins.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#lane.run(async () => {
      const stored = await this.store.read(this.name);
      if (stored !== undefined) return this.#adopt(stored);
      try {
        const snapshot = this.#policy.snapshot();
        this.#decision.restore(snapshot);
        this.#holdStored(await this.store.create(this.name, { action: 'create', by: this.replicaId, policy: snapshot, analysis: this.#analysisState(), to: summarize(this.#policy) }));
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
        const winner = await this.store.read(this.name);
        if (winner !== undefined) this.#adopt(winner);
      }
    });
    for (const [source, origin] of [[this.#policy, 'live'], [this.#decision, 'decision']] as const) {
      for (const [event, action] of Object.entries(TRANSITIONS)) {
        const listener = (payload: unknown) => this.#onTransition(origin, event, action, payload);
        source.on(event, listener);
        this.#listeners.push([source, event, listener]);
      }
    }
    await this.#follower.start();
    await this.#heartbeat.start().catch((error: unknown) => this.emit('error', { error, during: 'heartbeat' }));
    // The turn is returned, so a FakeClock's tickAsync waits for it before firing the next timer.
    this.#timer = this.#timers.setInterval(() => this.tick(), this.intervalMs);
  }

  /** Stops every timer, waits for the local transitions still being saved, and lets go of the lease. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#timers.clearInterval(this.#timer);
    this.#timer = undefined;
    for (const [source, event, listener] of this.#listeners.splice(0)) source.off(event, listener);
    this.#follower.stop();
    this.#heartbeat.stop();
    await this.#ticking;
    await this.#lane.idle();
    await this.#lease.release().catch(() => undefined);
  }

  /**
   * Makes a transition the fleet-safe way: `change` acts on the **decision copy** (the stored
   * state, plus this replica's transitions still on their way), the transition it makes is saved
   * by compare-and-swap, and only once it has landed does the live policy the router reads take
   * it, with the policy's usual event (`canary.on('rolledBack')` hears it once, then this
   * fleet's `transitioned`). Until then every request routes by the stored state, on this replica
   * as on every other.
   *
   * Resolves with the stored transition (its `revision`). Rejects, and the live policy is left as
   * it was, with `change`'s own error when it throws (`InvalidStateError` for a verb the state does
   * not allow), an `InvalidStateError` when it made no transition, a `PreconditionFailedError` when
   * the state it acted on was superseded before it could be saved (another replica's revision
   * landed first: the live policy and the copy hold that one now — decide again), or the
   * `StorageError` when the save failed. A `change` that makes several transitions saves each as
   * its own revision, in order, and resolves with the last (one that throws after making some has
   * them saved all the same).
   *
   * @example
   * ```ts
   * const { revision } = await fleet.transition((canary) => canary.rollback('error budget spent'));
   * ```
   * @throws InvalidStateError (as a rejection) before `start()` or after `stop()`.
   */
  transition(change: (policy: P) => void): Promise<FleetTransitionEvent> {
    if (!this.#started) {
      return Promise.reject(new InvalidStateError('FleetDeployment.transition() needs the fleet started: call start() first (it reads the stored state the transition builds on)'));
    }
    if (typeof change !== 'function') return Promise.reject(new ValidationError(`FleetDeployment.transition() change must be a function of the policy, got ${describeValue(change)}`));
    const made: PendingTransition[] = [];
    this.#collecting = made;
    try {
      change(this.#decision);
    } catch (error) {
      return Promise.reject(error);
    } finally {
      this.#collecting = undefined;
    }
    const last = made.at(-1);
    if (last === undefined) {
      return Promise.reject(new InvalidStateError('the change given to FleetDeployment.transition() made no transition of the policy (call one of its verbs: start, step, rollback, switch, conclude …)'));
    }
    return new Promise((resolve, reject) => {
      last.waiting = { resolve, reject };
    });
  }

  /** Resolves once every local transition made so far has been saved, superseded or refused. */
  flush(): Promise<void> {
    return this.#lane.idle();
  }

  /** Publishes this replica's heartbeat now (each turn of the loop also does, before it reads the others'). */
  publish(): Promise<void> {
    return this.#heartbeat.publish();
  }

  /** Re-reads the stored state now and applies a newer revision. */
  refresh(): Promise<void> {
    return this.#follower.refresh();
  }

  /**
   * One turn of the loop, as the timer runs it: publish this replica's heartbeat, catch up with
   * the stored state, merge the fleet's heartbeats (a bandit takes in the others' counts), and, if
   * this replica holds (or takes) the lease, judge the merged monitor and act. Returns the run's
   * report, or `undefined` when this replica did not analyse. A turn while one runs joins it.
   */
  tick(): Promise<FleetAnalysisReport<R> | undefined> {
    if (this.#ticking) return this.#ticking.then(() => undefined);
    let result: FleetAnalysisReport<R> | undefined;
    this.#ticking = this.#turn().then(
      (r) => {
        result = r;
      },
      (error: unknown) => {
        this.emit('error', { error, during: 'analysis' });
      },
    ).finally(() => {
      this.#ticking = undefined;
    });
    return this.#ticking.then(() => result);
  }

  /**
   * The fleet's results of an A/B experiment: this replica's own plus the latest fresh heartbeat
   * of every other replica, each counted once (as of the last `tick()`).
   * @throws InvalidStateError when the policy is not an `ABTestController`.
   */
  experimentResults(name: string): ExperimentResults {
    if (!(this.#policy instanceof ABTestController)) {
      throw new InvalidStateError(`experimentResults() needs an ABTestController policy, got ${describeValue(this.#policy)}`);
    }
    return fleetExperimentResults(this.#policy, name, this.#heartbeats, this.replicaId);
  }

  async #turn(): Promise<FleetAnalysisReport<R> | undefined> {
    if (!this.#started) return undefined;
    try {
      await this.#heartbeat.publish();
    } catch (error) {
      this.emit('error', { error, during: 'heartbeat' });
    }
    await this.#follower.refresh();
    try {
      this.#heartbeats = await readHeartbeats(this.#storage, this.name, { clock: this.#clock, ...(this.#maxAgeMs === undefined ? {} : { maxAgeMs: this.#maxAgeMs }) });
      mergeBanditCounts(this.#policy, this.#heartbeats, this.replicaId);
    } catch (error) {
      this.emit('error', { error, during: 'merge' });
      return undefined;
    }
    const analysis = this.analysis;
    if (analysis === undefined || !this.#started) return undefined;
    if (!(await this.#holdLease())) return undefined;
    try {
      mergeHeartbeats(this.#heartbeats, this.fleetMonitor, this.#clock);
    } catch (error) {
      this.emit('error', { error, during: 'merge' });
      return undefined;
    }
    this.#coverage = coverageOf(this.#heartbeats);
    if (this.fleetExperiments !== undefined) {
      const counters = this.#analysisState();
      try {
        // A restore of the view is no new situation for the fleet (the revision behind it was applied already): the counters stay.
        if (syncExperimentView(this.fleetExperiments, this.#policy as unknown as ABTestController, this.#heartbeats, this.replicaId)) this.#restoreCounters(counters);
      } catch (error) {
        this.emit('error', { error, during: 'merge' });
        return undefined;
      }
    }
    if (analysis.settled) return undefined;
    let report: R;
    try {
      report = await analysis.analyze();
    } catch (error) {
      if (error instanceof InvalidStateError) return undefined; // paused, idle, nothing pending: nothing to judge
      throw error;
    }
    const event: FleetAnalysisReport<R> = { report, ...this.#coverage };
    this.emit('analysis', event);
    this.#concludeLive(report);
    await this.flush();
    // Hand the counters on at once, so a replica taking over next interval carries on from this run.
    await this.#holdLease();
    return event;
  }

  /** Renews or takes the lease; emits `lease` when the holder changed. */
  async #holdLease(): Promise<boolean> {
    let held = false;
    let holder: LeaseRecord | undefined;
    let took: LeaseRecord | undefined;
    try {
      ({ held, holder, took } = await this.#lease.hold(this.revision, this.#analysisState()?.counters ?? null));
    } catch (error) {
      this.emit('error', { error, during: 'lease' });
    }
    const now = held ? this.replicaId : holder?.holder;
    if (now !== this.#leaseHolder) {
      this.#leaseHolder = now;
      this.emit('lease', { held, holder: now, term: holder?.term ?? (took?.term ?? 0) + 1 });
    }
    // A takeover within the same revision carries on counting where the previous holder stopped.
    if (held && took !== undefined && took.revision === this.revision) this.#restoreCounters({ counters: took.counters });
    return held;
  }

  /**
   * The fleet's view concluded an experiment the decision copy has not: conclude it there, one
   * transition with this run's numbers, which the live controller takes once it is saved.
   */
  #concludeLive(report: R): void {
    const view = this.fleetExperiments;
    if (view === undefined) return;
    const decision = this.#decision as unknown as ABTestController;
    for (const name of view.experimentNames) {
      const reached = view.results(name).conclusion;
      if (reached === null || !decision.experimentNames.includes(name) || decision.results(name).conclusion !== null) continue;
      this.#deciding = { report, coverage: this.#coverage };
      decision.conclude(name, reached.winner);
    }
  }

  readonly #onReport = (report: FleetReport) => {
    // The decision's policy event follows synchronously; it takes these numbers into the audit.
    this.#deciding = { report, coverage: this.#coverage };
    queueMicrotask(() => {
      if (this.#deciding?.report === report) this.#deciding = undefined;
    });
  };

  /** A transition event of the live policy (`live`: a verb called on it) or of the decision copy. */
  #onTransition(origin: PendingTransition['origin'], event: string, action: string, payload: unknown): void {
    if (payload !== undefined && payload === this.#replayed) return; // the fleet's own replay of a saved transition
    const live = origin === 'live';
    const source = live ? this.#policy : this.#decision;
    // A verb on the live policy in step with the copy is mirrored on it, so the analysis decides
    // on it too; one made while the copy's own decisions are on their way cannot land (built on an
    // older state) and is left off the copy.
    const mirrored = live && this.#liveHead === this.#decisionHead;
    if (mirrored) this.#replay(this.#decision, this.#policy.snapshot(), event, payload);
    const deciding = this.#deciding;
    this.#deciding = undefined;
    const eventReason = (payload as { reason?: unknown } | null)?.reason;
    const pending: PendingTransition = {
      action,
      event,
      payload,
      origin,
      parent: live ? this.#liveHead : this.#decisionHead,
      policy: source.snapshot(),
      from: live ? this.#liveSummary : this.#decisionSummary,
      to: summarize(source),
      reason: typeof eventReason === 'string' ? eventReason : deciding?.report.reason ?? null,
      numbers: deciding === undefined ? null : numbersOf(deciding.report, deciding.coverage),
      // Taken now: the analysis has already reset its counters for the new step (it listens first).
      analysis: this.#analysisState(),
      failure: undefined,
    };
    if (live) [this.#liveHead, this.#liveSummary] = [pending, pending.to];
    if (!live || mirrored) [this.#decisionHead, this.#decisionSummary] = [pending, pending.to];
    if (!live) this.#collecting?.push(pending);
    void this.#lane.run(() => this.#save(pending));
  }

  async #save(pending: PendingTransition): Promise<void> {
    if (pending.parent !== this.#stored) return this.#drop(pending, undefined, this.#follower.held);
    const held = this.#follower.held;
    try {
      const input = { action: pending.action, by: this.replicaId, policy: pending.policy, analysis: pending.analysis, from: pending.from, to: pending.to, reason: pending.reason, numbers: pending.numbers };
      const saved = held === undefined ? await this.store.create(this.name, input) : await this.store.transition(this.name, held, input);
      this.#landed(pending, saved);
    } catch (error) {
      // A save that failed after its claim landed did happen: settling publishes it, and says so.
      const winner = await this.store.settle(this.name).catch(() => this.store.read(this.name).catch(() => undefined));
      if (!(error instanceof PreconditionFailedError) && held !== undefined && winner?.state.revision === held.state.revision + 1 && winner.state.by === this.replicaId) {
        this.#landed(pending, winner);
        return;
      }
      this.#drop(pending, error, winner);
    }
  }

  /** `pending` is stored as `saved`: a decision now reaches the live policy, with its event. */
  #landed(pending: PendingTransition, saved: StoredDeployment): void {
    this.#follower.hold(saved);
    this.#stored = pending;
    if (pending.origin === 'decision') {
      this.#replay(this.#policy, pending.policy, pending.event, pending.payload);
      [this.#liveHead, this.#liveSummary] = [pending, pending.to];
    }
    const event: FleetTransitionEvent = { action: pending.action, revision: saved.state.revision, by: this.replicaId, from: pending.from, to: pending.to, reason: pending.reason, numbers: pending.numbers };
    this.emit('transitioned', event);
    pending.waiting?.resolve(event);
  }

  /**
   * `pending` will not land: its state was superseded (`error` a `PreconditionFailedError`, or
   * none when it was built on a state that is no longer the stored one) or storage refused it.
   * The live policy and the copy go to `winner` (the stored state, when it could be read).
   */
  #drop(pending: PendingTransition, error: unknown, winner: StoredDeployment | undefined): void {
    const parent = pending.parent;
    const inherited = parent !== undefined && 'failure' in parent && parent.failure !== undefined;
    const superseded = error === undefined || error instanceof PreconditionFailedError;
    if (winner !== undefined) this.#adopt(winner);
    else this.#unknownStored();
    if (inherited) {
      pending.failure = parent.failure; // built on a transition that did not land: dropped with it, silently
    } else if (superseded) {
      const by = winner?.state.by ?? 'unknown';
      pending.failure = new PreconditionFailedError(
        `transition '${pending.action}' of '${this.name}' was superseded: the state it was built on is no longer stored (revision ${this.revision} by '${by}' is); the policy holds that revision now, decide again`,
        { cause: error },
      );
      this.emit('superseded', { action: pending.action, revision: winner?.state.revision ?? this.revision, by });
    } else {
      pending.failure = error;
      this.emit('transitionFailed', { action: pending.action, error });
    }
    pending.waiting?.reject(pending.failure);
  }

  /** Puts the live policy and the copy (and the counters) at `stored`, each where it holds anything else. */
  #adopt(stored: StoredDeployment): void {
    const newer = stored.state.revision > this.revision;
    if (newer || this.#liveHead !== this.#stored) restoreKeepingOwnCounts(this.#policy, stored.state.policy);
    if (newer || this.#decisionHead !== this.#stored) {
      this.#decision.restore(stored.state.policy);
      this.#restoreCounters(stored.state.analysis);
    }
    this.#follower.hold(stored);
    this.#holdStored(this.#follower.held);
  }

  /** Both policies now hold `stored` (read, created or applied). */
  #holdStored(stored: StoredDeployment | undefined): void {
    this.#stored = this.#liveHead = this.#decisionHead = stored;
    this.#liveSummary = this.#decisionSummary = summarize(this.#policy);
  }

  /**
   * Storage could be neither written nor read: what it holds is unknown. The live policy keeps
   * what it has (a verb called on it stays until storage answers), the copy takes the same, and
   * the next re-read applies whatever is stored, whatever its revision.
   */
  #unknownStored(): void {
    this.#follower.forget();
    this.#decision.restore(this.#policy.snapshot());
    this.#stored = this.#liveHead = this.#decisionHead = undefined;
    this.#decisionSummary = this.#liveSummary;
  }

  /** Restores `target` to `snapshot` and emits the transition event that made it, past the fleet's own listeners. */
  #replay(target: P, snapshot: unknown, event: string, payload: unknown): void {
    this.#replayed = payload;
    try {
      if (target === this.#policy) restoreKeepingOwnCounts(target, snapshot);
      else target.restore(snapshot);
      target.emit(event, payload);
    } finally {
      this.#replayed = undefined;
    }
  }

  #analysisState(): { counters: unknown } | null {
    // Read once: every analysis's `counters` getter returns a fresh copy.
    const counters = this.analysis?.counters;
    return counters === undefined ? null : { counters };
  }

  #restoreCounters(analysisState: unknown): void {
    const counters = (analysisState as { counters?: unknown } | null)?.counters;
    if (counters === undefined || counters === null || this.analysis?.restoreCounters === undefined) return;
    try {
      this.analysis.restoreCounters(counters);
    } catch (error) {
      this.emit('error', { error, during: 'follow' });
    }
  }
}

/** `status percentage` (a canary), `active vN` (a switch), or `null`: the audit's from / to. */
function summarize(policy: object): string | null {
  const state = (policy as { state?: unknown }).state as { status?: unknown; percentage?: unknown; activeVersion?: unknown } | undefined;
  if (typeof state?.status === 'string') return typeof state.percentage === 'number' ? `${state.status} ${state.percentage}` : state.status;
  if (typeof state?.activeVersion === 'number') return `active v${state.activeVersion}`;
  return null;
}

function coverageOf(heartbeats: readonly ReadHeartbeat[]): FleetCoverage {
  const fresh = heartbeats.filter((h) => h.fresh);
  return {
    replicas: fresh.length,
    replicaIds: fresh.map((h) => h.replicaId),
    stale: heartbeats.filter((h) => !h.fresh).map((h) => h.replicaId),
    requests: fresh.reduce((sum, h) => sum + h.requests, 0),
  };
}

/** The numbers an audit record keeps of the run that decided. */
function numbersOf(report: FleetReport, coverage: FleetCoverage): Record<string, number> {
  if ('experiment' in report) return experimentNumbers(report, coverage);
  const numbers: Record<string, number> = {
    replicas: coverage.replicas,
    requests: coverage.requests,
    percentage: report.percentage,
    candidateVersion: report.candidate.version,
    candidateRequests: report.candidate.totalRequests,
    candidateErrorRate: report.candidate.errorRate,
    candidateP99LatencyMs: report.candidate.p99LatencyMs,
    runs: report.counters.runs,
    successes: report.counters.successes,
    failures: report.counters.failures,
    inconclusives: report.counters.inconclusives,
  };
  if (report.baseline !== undefined) {
    numbers.baselineVersion = report.baseline.version;
    numbers.baselineRequests = report.baseline.totalRequests;
    numbers.baselineErrorRate = report.baseline.errorRate;
    numbers.baselineP99LatencyMs = report.baseline.p99LatencyMs;
  }
  return finiteOnly(numbers);
}

/** An A/B run's numbers: coverage, every variant's count and mean, each challenger's p-value, the SRM check's, the counters. */
function experimentNumbers(report: ABTestAnalysisReport, coverage: FleetCoverage): Record<string, number> {
  const { results, counters } = report;
  const numbers: Record<string, number> = {
    replicas: coverage.replicas,
    requests: coverage.requests,
    units: results.variants.reduce((sum, v) => sum + v.count, 0),
    srmPValue: results.srm.pValue ?? Number.NaN,
    runs: counters.runs,
    successes: counters.successes,
    failures: counters.failures,
    inconclusives: counters.inconclusives,
  };
  for (const v of results.variants) {
    numbers[`count.${v.name}`] = v.count;
    numbers[`mean.${v.name}`] = v.mean;
  }
  for (const [variant, comparison] of Object.entries(results.comparisons)) {
    if (comparison !== null) numbers[`pValue.${variant}`] = comparison.pValue;
  }
  return finiteOnly(numbers);
}

function finiteOnly(numbers: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(numbers).filter(([, v]) => Number.isFinite(v)));
}
