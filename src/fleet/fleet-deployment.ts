import { EventEmitter } from 'eventemitter3';
import type { ABTestAnalysisReport } from '../analysis/ab-test-analysis.js';
import type { AnalysisReport } from '../analysis/types.js';
import { InvalidStateError, PreconditionFailedError, ValidationError, describeValue } from '../errors.js';
import { DeploymentMonitor } from '../monitor/deployment-monitor.js';
import { type Clock, type RandomSource, checkFunction, checkNumber } from '../options.js';
import { ABTestController } from '../routing/ab-test.js';
import type { ExperimentResults } from '../routing/ab-test-types.js';
import type { StorageAdapter } from '../storage/storage-adapter.js';
import { type ChangeHints, DeploymentFollower } from './deployment-follower.js';
import { DeploymentLease, type LeaseRecord } from './deployment-lease.js';
import { type DeploymentState, DeploymentStore, type StoredDeployment } from './deployment-store.js';
import { type ReadHeartbeat, mergeHeartbeats, readHeartbeats } from './fleet-monitors.js';
import { Lane } from './lane.js';
import { MonitorHeartbeat } from './monitor-heartbeat.js';
import { checkDeploymentName, checkKeySegment } from './names.js';
import { experimentView, fleetExperimentResults, mergeBanditCounts, observationsOf, restoreKeepingOwnCounts, syncExperimentView } from './shared-counts.js';

/** A policy fleet mode can share: its plain-JSON state and its transition events (every routing policy). */
export interface FleetPolicy extends Pick<EventEmitter<string>, 'on' | 'off'> {
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
export interface FleetAnalysisContext {
  /**
   * With an `ABTestController` policy: the fleet's view of its experiments (see
   * {@link FleetDeployment.fleetExperiments}), to compose an `ABTestAnalysis` on; else `undefined`.
   */
  experiments: ABTestController | undefined;
}

/** Options of {@link FleetDeployment}. */
export interface FleetDeploymentOptions<R extends FleetReport = AnalysisReport> {
  storage: StorageAdapter;
  /** The deployment's name: `deployments/<name>.json`, `monitors/<name>/…`. */
  name: string;
  /** This replica's id, unique in the fleet (a pod name): the audit's `by`, the heartbeat's key. */
  replicaId: string;
  /** The live policy the router routes with. */
  policy: FleetPolicy;
  /** The monitor this replica's router records into; its snapshot is this replica's heartbeat. */
  monitor: DeploymentMonitor;
  /**
   * Composes the analysis on the fleet's merged monitor (e.g.
   * `(monitor) => canaryAnalysis(canary, { monitor, maxErrorRate: 0.02 })`), or with an
   * `ABTestController` policy on the fleet's view of its experiments (e.g.
   * `(monitor, { experiments }) => new ABTestAnalysis(experiments!, 'ranker', { monitor, guardrails })`).
   * Without it this replica follows, publishes and records the host's transitions, and judges nothing.
   */
  analysis?: (fleetMonitor: DeploymentMonitor, context: FleetAnalysisContext) => FleetAnalysis<R>;
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
  clock?: Clock;
  random?: RandomSource;
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
  /** A transition of this replica (its host's or its analysis') landed in storage. */
  transitioned: (event: FleetTransitionEvent) => void;
  /** Another replica's newer revision was applied to the live policy (and the analysis counters). */
  applied: (event: { revision: number; previous: number; by: string; at: string }) => void;
  /**
   * A local transition lost its compare-and-swap: another replica moved the deployment first, and
   * the live policy now holds the winner's state. Local changes queued after it were dropped too.
   */
  superseded: (event: { action: string; revision: number; by: string }) => void;
  /** A local transition could not be saved (storage failed); the live policy was put back to the stored state. */
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

interface PendingTransition {
  action: string;
  policy: unknown;
  from: string | null;
  to: string | null;
  reason: string | null;
  numbers: Record<string, number> | null;
  analysis: { counters: unknown } | null;
  epoch: number;
}

/**
 * One replica's part in a fleet-wide rollout. It owns, for this replica:
 * - the **follower**: newer revisions of `deployments/<name>.json` are applied to the live policy
 *   and to the analysis counters (polling with jitter, PostgreSQL NOTIFY as a hint);
 * - the **transitions**: every transition of the policy — by the host (`canary.rollback()`) or by
 *   the analysis — becomes a `DeploymentStore.transition()` from the revision this replica holds;
 *   a lost compare-and-swap re-reads, restores the winner's state and emits `superseded`;
 * - the **heartbeat**: its monitor snapshot (and a bandit's or A/B controller's own counts) under
 *   `monitors/<name>/<replicaId>.json`;
 * - the **analysis loop**: while it holds the lease `deployments/<name>/lease.json` it judges the
 *   merged monitor of every fresh replica, one run per interval across the fleet, and hands its
 *   counters on through the lease when another replica takes over.
 * `route()` never waits on any of it: the policy is read in memory and every timer is unref'd.
 *
 * @example
 * ```ts
 * const canary = new CanaryDeployment({ name: 'iris', stable: 1, canary: 2, steps: [5, 25, 50, 100] });
 * const monitor = new DeploymentMonitor();
 * const fleet = new FleetDeployment({
 *   storage, name: 'iris', replicaId: process.env.HOSTNAME!, policy: canary, monitor,
 *   analysis: (merged) => canaryAnalysis(canary, { monitor: merged, minRequests: 200, maxErrorRate: 0.02, intervalMs: 30_000 }),
 * });
 * fleet.on('superseded', (e) => log.info('another replica moved first', e));
 * await fleet.start();
 * const router = new ModelRouter({ registry, model: 'iris', policy: canary, monitor });
 * // on one replica, or from the CLI: canary.start() — every replica follows
 * ```
 */
export class FleetDeployment<R extends FleetReport = AnalysisReport> extends EventEmitter<FleetDeploymentEvents<R>> {
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
   * looks kept across runs. A conclusion reached on it is applied to the live controller as one
   * `conclude` transition. `undefined` for other policies.
   */
  readonly fleetExperiments: ABTestController | undefined;
  /** The analysis composed on {@link FleetDeployment.fleetMonitor}, if any. */
  readonly analysis: FleetAnalysis<R> | undefined;
  readonly intervalMs: number;
  readonly #storage: StorageAdapter;
  readonly #policy: FleetPolicy;
  readonly #clock: Clock;
  readonly #maxAgeMs: number | undefined;
  readonly #lane = new Lane();
  readonly #follower: DeploymentFollower;
  readonly #heartbeat: MonitorHeartbeat;
  readonly #lease: DeploymentLease;
  readonly #listeners: Array<[event: string, listener: (event: unknown) => void]> = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #ticking: Promise<void> | undefined;
  #started = false;
  /** Bumped when a local transition is superseded: the changes queued after it are dropped. */
  #epoch = 0;
  /** The analysis report whose decision is being acted on right now (same tick as its event). */
  #deciding: { report: FleetReport; coverage: FleetCoverage } | undefined;
  #coverage: FleetCoverage = { replicas: 0, replicaIds: [], stale: [], requests: 0 };
  #heartbeats: readonly ReadHeartbeat[] = [];
  #leaseHolder: string | undefined;
  /** Summary of the live policy after its last recorded or adopted transition: the next one's `from`. */
  #summary: string | null = null;

  constructor(options: FleetDeploymentOptions<R>) {
    super();
    if (typeof options !== 'object' || options === null || typeof options.storage?.put !== 'function') {
      throw new ValidationError(`FleetDeployment options must have a storage adapter, got ${describeValue(options)}`);
    }
    const { policy, monitor } = options;
    for (const method of ['snapshot', 'restore', 'on', 'off'] as const) {
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
    this.store = new DeploymentStore({ storage: this.#storage, clock: this.#clock });
    this.fleetMonitor = new DeploymentMonitor({
      windowMs: monitor.windowMs,
      buckets: monitor.buckets,
      relativeAccuracy: monitor.relativeAccuracy,
      maxVersions: monitor.maxVersions,
      clock: monitor.clock,
    });
    this.fleetExperiments = policy instanceof ABTestController ? experimentView(policy, this.#clock) : undefined;
    const compose = options.analysis === undefined ? undefined : checkFunction<NonNullable<FleetDeploymentOptions<R>['analysis']>>('analysis', options.analysis);
    this.analysis = compose?.(this.fleetMonitor, { experiments: this.fleetExperiments });
    if (this.analysis !== undefined && typeof this.analysis.analyze !== 'function') {
      throw new ValidationError(`analysis must return an analysis composed on the monitor it is given (with analyze()), got ${describeValue(this.analysis)}`);
    }
    this.intervalMs = checkNumber('intervalMs', options.intervalMs ?? this.analysis?.intervalMs ?? 60_000, { min: 1 });
    const heartbeatMs = checkNumber('heartbeatMs', options.heartbeatMs ?? this.intervalMs, { min: 1 });
    this.#maxAgeMs = options.maxAgeMs === undefined ? undefined : checkNumber('maxAgeMs', options.maxAgeMs, { min: 0 });
    const leaseTtlMs = checkNumber('leaseTtlMs', options.leaseTtlMs ?? 3 * this.intervalMs, { min: 1 });
    this.#follower = new DeploymentFollower({
      store: this.store,
      name: this.name,
      policy: { restore: (snapshot) => restoreKeepingOwnCounts(this.#policy, snapshot) },
      intervalMs: checkNumber('followMs', options.followMs ?? 5_000, { min: 1 }),
      hints: options.hints,
      random: options.random,
      serialize: (job) => this.#lane.run(job),
    });
    this.#follower.on('applied', (e) => {
      this.#restoreCounters(e.state.analysis);
      this.#summary = summarize(this.#policy);
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
        this.#summary = summarize(this.#policy);
        this.#follower.hold(await this.store.create(this.name, { action: 'create', by: this.replicaId, policy: this.#policy.snapshot(), analysis: this.#analysisState(), to: this.#summary }));
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
        const winner = await this.store.read(this.name);
        if (winner !== undefined) this.#adopt(winner);
      }
    });
    for (const [event, action] of Object.entries(TRANSITIONS)) {
      const listener = (payload: unknown) => this.#onTransition(action, payload);
      this.#policy.on(event, listener);
      this.#listeners.push([event, listener]);
    }
    await this.#follower.start();
    await this.#heartbeat.start().catch((error: unknown) => this.emit('error', { error, during: 'heartbeat' }));
    this.#timer = setInterval(() => void this.tick(), this.intervalMs);
    this.#timer.unref?.();
  }

  /** Stops every timer, waits for the local transitions still being saved, and lets go of the lease. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const [event, listener] of this.#listeners.splice(0)) this.#policy.off(event, listener);
    this.#follower.stop();
    this.#heartbeat.stop();
    await this.#ticking;
    await this.#lane.idle();
    await this.#lease.release().catch(() => undefined);
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
        if (syncExperimentView(this.fleetExperiments, this.#policy as ABTestController, this.#heartbeats, this.replicaId)) this.#restoreCounters(counters);
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

  /** The fleet's view concluded an experiment the live controller has not: conclude it there, one transition with this run's numbers. */
  #concludeLive(report: R): void {
    const view = this.fleetExperiments;
    if (view === undefined) return;
    const live = this.#policy as ABTestController;
    for (const name of view.experimentNames) {
      const reached = view.results(name).conclusion;
      if (reached === null || !live.experimentNames.includes(name) || live.results(name).conclusion !== null) continue;
      this.#deciding = { report, coverage: this.#coverage };
      live.conclude(name, reached.winner);
    }
  }

  readonly #onReport = (report: FleetReport) => {
    // The decision's policy event follows synchronously; it takes these numbers into the audit.
    this.#deciding = { report, coverage: this.#coverage };
    queueMicrotask(() => {
      if (this.#deciding?.report === report) this.#deciding = undefined;
    });
  };

  #onTransition(action: string, payload: unknown): void {
    const deciding = this.#deciding;
    this.#deciding = undefined;
    const eventReason = (payload as { reason?: unknown } | null)?.reason;
    const to = summarize(this.#policy);
    const pending: PendingTransition = {
      action,
      policy: this.#policy.snapshot(),
      from: this.#summary,
      to,
      reason: typeof eventReason === 'string' ? eventReason : deciding?.report.reason ?? null,
      numbers: deciding === undefined ? null : numbersOf(deciding.report, deciding.coverage),
      // Taken now: the analysis has already reset its counters for the new step (it listens first).
      analysis: this.#analysisState(),
      epoch: this.#epoch,
    };
    this.#summary = to;
    void this.#lane.run(() => this.#save(pending));
  }

  async #save(pending: PendingTransition): Promise<void> {
    if (pending.epoch !== this.#epoch) return; // built on a local state that was superseded
    const held = this.#follower.held;
    try {
      const input = { action: pending.action, by: this.replicaId, policy: pending.policy, analysis: pending.analysis, from: pending.from, to: pending.to, reason: pending.reason, numbers: pending.numbers };
      const saved = held === undefined ? await this.store.create(this.name, input) : await this.store.transition(this.name, held, input);
      this.#follower.hold(saved);
      this.emit('transitioned', { action: pending.action, revision: saved.state.revision, by: this.replicaId, from: pending.from, to: pending.to, reason: pending.reason, numbers: pending.numbers });
    } catch (error) {
      // A save that failed after its claim landed did happen: settling publishes it, and says so.
      const winner = await this.store.settle(this.name).catch(() => this.store.read(this.name).catch(() => undefined));
      if (!(error instanceof PreconditionFailedError) && held !== undefined && winner?.state.revision === held.state.revision + 1 && winner.state.by === this.replicaId) {
        this.#follower.hold(winner);
        this.emit('transitioned', { action: pending.action, revision: winner.state.revision, by: this.replicaId, from: pending.from, to: pending.to, reason: pending.reason, numbers: pending.numbers });
        return;
      }
      this.#epoch++;
      // Storage unreadable too: the next re-read applies whatever is stored, whatever its revision.
      if (winner === undefined) this.#follower.forget();
      else this.#adopt(winner, true);
      if (error instanceof PreconditionFailedError) {
        this.emit('superseded', { action: pending.action, revision: winner?.state.revision ?? this.revision, by: winner?.state.by ?? 'unknown' });
      } else {
        this.emit('transitionFailed', { action: pending.action, error });
      }
    }
  }

  /** Puts the live policy (and the counters) at `stored`, whatever it held. */
  #adopt(stored: StoredDeployment, force = false): void {
    if (force || stored.state.revision > this.revision) {
      restoreKeepingOwnCounts(this.#policy, stored.state.policy);
      this.#restoreCounters(stored.state.analysis);
    }
    this.#follower.hold(stored);
    this.#summary = summarize(this.#policy);
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
