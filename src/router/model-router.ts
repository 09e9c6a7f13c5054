import { performance } from 'node:perf_hooks';
import { EventEmitter } from 'eventemitter3';
import { IntegrityError, ModelLoadError, NotFoundError, StorageError, ValidationError, describeValue } from '../errors.js';
import { DeploymentMonitor } from '../monitor/deployment-monitor.js';
import { checkLogger, type Logger } from '../logger.js';
import { type Clock, checkFunction, checkNumber } from '../options.js';
import { BatchingPredictor, resolveBatchingOptions, type BatchingOptions } from '../predict/batching-predictor.js';
import { OnnxPredictor } from '../predict/onnx-predictor.js';
import { PredictorPool, type PredictorPoolOptions } from '../predict/predictor-pool.js';
import { settlesOnItsPromise, takesCallbacks, type PredictCallback, type PredictHandler, type PredictInput, type PredictOptions, type PredictOutput, type Predictor } from '../predict/types.js';
import type { ModelRegistry } from '../registry/model-registry.js';
import type { ModelVersion, VersionRef } from '../registry/model-version.js';
import { checkName } from '../registry/names.js';
import type { Assignment, MirroringPolicy, PolicyTraffic, RouteContext, RoutingPolicy } from '../routing/policy.js';
import { isCallerError, withRouting } from './routed-error.js';
import { ShadowMirror, type ShadowCounters } from './shadow-mirror.js';
import { logEvents } from './event-log.js';
import { trackPolicy } from './policy-gauges.js';
import type { RouterMonitor, RouterPool } from './parts.js';


/** Options of {@link ModelRouter}. */
export interface ModelRouterOptions<Monitor extends RouterMonitor = DeploymentMonitor, Pool extends RouterPool = PredictorPool<ModelVersion>> {
  /** Where versions come from. */
  registry: ModelRegistry;
  /** The model this router serves, e.g. `'iris'`. */
  model: string;
  /** Decides which version answers each request. */
  policy: RoutingPolicy;
  /**
   * Records every outcome (default: a new `DeploymentMonitor`); give the one your policy's
   * analysis reads. Anything with the {@link RouterMonitor} methods fits.
   */
  monitor?: Monitor;
  /**
   * Loaded predictors (default: `new PredictorPool({ registry })`); give your own to plug a
   * non-ONNX model in. Anything with the {@link RouterPool} methods fits.
   */
  pool?: Pool;
  /**
   * Batch concurrent requests per version (default: no batching): `true` for the adaptive
   * {@link BatchingPredictor} defaults, or its options (`{ maxBatchSize: 64 }` …). The router's own
   * pool then wraps every version it loads; a version that cannot be batched fails to load with
   * the reason (`ModelLoadError`), so its requests are answered by the policy's fallback. Not with
   * `pool`: wrap that pool's `create` instead.
   */
  batching?: boolean | BatchingOptions;
  /**
   * How the router's own pool warms each version before it serves (default: 3 inferences on an
   * input built from the signature); see {@link PredictorPoolOptions.warmUp}. Not with `pool`.
   */
  warmUp?: PredictorPoolOptions<ModelVersion>['warmUp'];
  /**
   * Monotonic time source in ms for latencies and the load-retry delay (default `performance.now`).
   * The monitor keeps its own clock for its windows.
   */
  clock?: Clock;
  /** Most mirrored (shadow) calls running at once; more are dropped and counted (default 64). */
  maxShadowInFlight?: number;
  /**
   * After a routed version fails to load, requests routed to it are answered by the fallback
   * without trying it again for this long, in ms (default 5 000), so a broken candidate costs one
   * failed load per interval instead of one per request. Each such request still counts as a
   * failure of the candidate, so its analysis sees it.
   */
  loadRetryMs?: number;
  /**
   * Name of this rollout in the monitor's deployment gauges and in log lines (default: `model`).
   * The router reports its policy's traffic per version, a canary's status and step, and the
   * latest analysis outcome and time in every scrape of `monitor`.
   */
  deployment?: string;
  /**
   * Where to log the rollout's decisions (transitions and analysis runs), fallbacks, failed and
   * dropped mirrors and model loads: anything with `debug`, `info`, `warn` and `error` methods
   * taking `(fields, message)`, such as `console` or a `pino` logger. Nothing is logged by default.
   */
  logger?: Logger;
  /**
   * The analysis (or analyses: a blue-green's `phases`) composed around `policy`, e.g.
   * `canaryAnalysis(canary, …)`: its runs feed the deployment gauges' last analysis outcome and
   * time, and the `logger`'s analysis lines. Anything emitting `analysis` events fits.
   */
  analysis?: object | readonly object[];
}

/** Options of {@link ModelRouter.predict}: who asks, and optionally which version. */
export interface RouterPredictOptions extends RouteContext {
  /**
   * Serve this version instead of asking the policy: a number, `'latest'` or `'@alias'` (the
   * seed's `model_version` field, so any string from a request body is accepted and checked by
   * the registry: anything else is a `ValidationError`). Variant `'explicit'`; no fallback if it
   * cannot be loaded.
   */
  version?: number | string;
  /** Cancels the prediction (`AbortedError`, not counted against the version). */
  signal?: AbortSignal;
}

/** What {@link ModelRouter.predict} answers. */
export interface RouterPrediction {
  /** The predictor's output, per output name. */
  output: PredictOutput;
  /** Version that answered. */
  version: number;
  /** Variant, slot or arm that answered (`'stable'`, `'canary'`, `'green'`, `'explicit'` …). */
  variant: string;
  /** Time the predictor took, in ms (model loading is not included). */
  latencyMs: number;
}

/** One version the router may serve now: the policy's traffic and the registry's record. */
export interface ServedVersion extends PolicyTraffic {
  record: ModelVersion;
}

/** Payload of the `fallback` event. */
export interface RouterFallbackEvent {
  /** Where the policy routed the request. */
  routed: Assignment;
  /** Where it was answered from instead: the policy's `fallback()`. */
  fallback: Assignment;
  /** Why the routed version could not serve: its load error (`IntegrityError`, `ModelLoadError` …). */
  error: unknown;
}

/** Payload of the `shadowFailed` event. */
export interface RouterShadowFailedEvent {
  /** The shadow version. */
  version: number;
  /** `'predict'` (the shadow call failed) or `'compare'` (its output could not be compared with the primary's). */
  stage: 'predict' | 'compare';
  error: unknown;
}

/** Payload of the `shadowDropped` event. */
export interface RouterShadowDroppedEvent {
  version: number;
  /** Mirrors dropped so far. */
  dropped: number;
}

/** Events of {@link ModelRouter}. */
export interface ModelRouterEvents {
  /** A routed version could not be loaded; the request was answered by the policy's fallback. */
  fallback: (event: RouterFallbackEvent) => void;
  /** A mirrored call failed; the caller never saw it. */
  shadowFailed: (event: RouterShadowFailedEvent) => void;
  /** A mirror was dropped because `maxShadowInFlight` mirrors were already running. */
  shadowDropped: (event: RouterShadowDroppedEvent) => void;
}

/** Errors that mean "this version cannot be served", so a routed request falls back to stable. */
function isLoadError(error: unknown): boolean {
  return (
    error instanceof IntegrityError ||
    error instanceof ModelLoadError ||
    error instanceof NotFoundError ||
    error instanceof StorageError
  );
}

/** Events of the built-in policies after which `traffic()` may name a version not yet loaded. */
const TRAFFIC_EVENTS = ['started', 'stepped', 'resumed', 'deployed', 'mirrorChanged', 'restored', 'merged'] as const;

function isMirroring(policy: RoutingPolicy): policy is MirroringPolicy {
  const candidate = policy as Partial<MirroringPolicy>;
  return typeof candidate.compare === 'function' && typeof candidate.recordShadowError === 'function';
}

/** The `ValidationError` a malformed `predict` options object deserves, or `undefined` when it is well formed. */
function invalidPredictOptions(options: unknown): ValidationError | undefined {
  if (typeof options !== 'object' || options === null) {
    return new ValidationError(`predict options must be an object like { unitId, signal }, got ${describeValue(options)}`);
  }
  const { unitId, force, signal } = options as RouterPredictOptions;
  if (unitId !== undefined && typeof unitId !== 'string') return new ValidationError(`unitId must be a string, got ${describeValue(unitId)}`);
  if (force !== undefined && typeof force !== 'string') return new ValidationError(`force must be a variant name, got ${describeValue(force)}`);
  if (signal !== undefined && !(signal instanceof AbortSignal)) return new ValidationError(`signal must be an AbortSignal, got ${describeValue(signal)}`);
  return undefined;
}

/** How a router settles its requests; the router's own, so that its private parts stay private. */
interface RequestSettler {
  /** Records an answered request and returns what its caller gets. */
  prediction(request: RoutedRequest, output: PredictOutput, run: object | undefined): RouterPrediction;
  /** Records a failed request (unless it is the caller's doing) and returns the error its caller gets. */
  failure(request: RoutedRequest, error: unknown): unknown;
}

/**
 * One request on its way through a predictor, holding what the router needs when it ends (when it
 * started, where it was routed) and how its caller learns the outcome: as the predictor's callback
 * (settling the router's promise, `resolve` / `reject`), or as the handler of the predictor's own
 * promise (`answered` / `failed` give its value or error).
 */
class RoutedRequest implements PredictCallback, PredictHandler<RouterPrediction> {
  started = 0;
  resolve: (prediction: RouterPrediction) => void = noop;
  reject: (error: unknown) => void = noop;
  readonly #settler: RequestSettler;

  constructor(
    settler: RequestSettler,
    readonly input: PredictInput,
    readonly assignment: Assignment,
    readonly served: Assignment,
  ) {
    this.#settler = settler;
  }

  answer(output: PredictOutput, run?: object): void {
    this.resolve(this.#settler.prediction(this, output, run));
  }

  fail(error: unknown): void {
    this.reject(this.#settler.failure(this, error));
  }

  answered(output: PredictOutput): RouterPrediction {
    return this.#settler.prediction(this, output, undefined);
  }

  failed(error: unknown): unknown {
    return this.#settler.failure(this, error);
  }
}

function noop(): void {}

/**
 * A promise's settling functions, taken by one shared executor instead of a closure per request:
 * `new Promise(capture)` runs it synchronously, and the router moves them onto its request at once.
 */
const captured: { resolve: (prediction: RouterPrediction) => void; reject: (error: unknown) => void } = { resolve: noop, reject: noop };
function capture(resolve: (prediction: RouterPrediction) => void, reject: (error: unknown) => void): void {
  captured.resolve = resolve;
  captured.reject = reject;
}

/** The monitor key of a shadow version's mirrored calls. */
export function shadowKey(version: number): string {
  return `shadow:${version}`;
}

/**
 * What a host calls: the policy picks a version, the pool hands out its loaded predictor, the
 * predictor answers, and the monitor records the latency and outcome, so the policy's analysis
 * can promote or roll back on live numbers.
 *
 * - A predictor error is recorded as a failure and rethrown with `version` and `variant` set
 *   on it (see {@link isRoutedError}); an `InputShapeError` or `AbortedError` is the caller's
 *   doing and is not counted.
 * - A routed version that cannot be loaded (`IntegrityError`, `ModelLoadError`, `NotFoundError`,
 *   `StorageError`) is answered by the policy's `fallback()` version with a `fallback` event:
 *   a broken candidate never becomes a 500. It counts as a failure of the candidate.
 * - With a policy that mirrors (`ShadowDeployment`: assignments carrying `mirror`), mirrored requests run after the caller has its answer, at most
 *   `maxShadowInFlight` at once (more are dropped and counted), recorded in the monitor under
 *   `'shadow:<version>'` so they never mix with that version's live traffic, and compared
 *   through the policy.
 *
 * @example
 * ```ts
 * const monitor = new DeploymentMonitor();
 * const canary = new CanaryDeployment({ stable: 1, canary: 2 });
 * const analysis = new CanaryAnalysis(canary, { monitor, maxErrorRate: 0.02 });
 * const router = new ModelRouter({ registry, model: 'iris', policy: canary, monitor });
 * canary.start();
 * analysis.start();
 * const { output, version, variant } = await router.predict([[5.1, 3.5, 1.4, 0.2]], { unitId: 'user-42' });
 * ```
 */
export class ModelRouter<Monitor extends RouterMonitor = DeploymentMonitor, Pool extends RouterPool = PredictorPool<ModelVersion>> extends EventEmitter<ModelRouterEvents> {
  /** The model served. */
  readonly model: string;
  /** Name of this rollout in the monitor's deployment gauges and in log lines. */
  readonly deployment: string;
  readonly registry: ModelRegistry;
  readonly policy: RoutingPolicy;
  readonly monitor: Monitor;
  readonly pool: Pool;
  readonly #clock: Clock;
  /**
   * With the default clock (`performance.now`) and a monitor on the wall clock, every record passes
   * its end time as the monitor's `at` (one object, reused), so the monitor reads no clock of its own.
   */
  readonly #recordAt: { at: number } | undefined;
  /** `performance.timeOrigin`, read once: its getter costs as much as a clock reading. */
  readonly #timeOrigin = performance.timeOrigin;
  /** The run (batch) whose callers are being answered, and when the router saw it end. */
  #lastRun: object | undefined;
  #lastRunEnded = 0;
  readonly #loadRetryMs: number;
  readonly #shadow: MirroringPolicy | undefined;
  readonly #mirror: ShadowMirror;
  /** Routed versions that failed to load: when to try again, and why they failed. */
  readonly #unavailable = new Map<number, { retryAt: number; error: unknown }>();
  /** Versions being loaded and warmed ahead of traffic; each promise settles (never rejects) when done. */
  readonly #preparing = new Map<number, Promise<unknown>>();
  readonly #prepareTraffic = (): void => {
    for (const { version } of this.#traffic()) this.#prepareVersion(version);
  };

  /** Settles a routed request from its predictor's callback or promise; one per router, so a request costs no closure. */
  readonly #settle: RequestSettler = {
    prediction: (request, output, run) => {
      const served = request.served;
      // Every caller of one run (a batch) ended when that run answered: one clock reading for all.
      let ended: number;
      if (run !== undefined && run === this.#lastRun) {
        ended = this.#lastRunEnded;
      } else {
        ended = this.#clock();
        this.#lastRun = run;
        this.#lastRunEnded = ended;
      }
      const latencyMs = this.#recordOutcome(served.version, request.started, true, ended);
      const mirror = request.assignment.mirror;
      if (mirror !== undefined && this.#shadow !== undefined) this.#offerMirror(request.input, output, mirror.version);
      return { output, version: served.version, variant: served.variant, latencyMs };
    },
    failure: (request, error) => {
      const served = request.served;
      if (!isCallerError(error)) this.#recordOutcome(served.version, request.started, false, this.#clock());
      return withRouting(error, this.model, served.version, served.variant);
    },
  };

  constructor(options: ModelRouterOptions<Monitor, Pool>) {
    super();
    if (typeof options !== 'object' || options === null) {
      throw new ValidationError(`ModelRouter options must be an object, got ${describeValue(options)}`);
    }
    const { registry, model, policy } = options;
    if (typeof registry !== 'object' || registry === null || typeof registry.resolve !== 'function') {
      throw new ValidationError(`registry must be a ModelRegistry, got ${describeValue(registry)}`);
    }
    if (typeof policy !== 'object' || policy === null || typeof policy.route !== 'function' || typeof policy.fallback !== 'function') {
      throw new ValidationError(`policy must be a routing policy with route() and fallback(), got ${describeValue(policy)}`);
    }
    this.model = checkName(model, 'model');
    this.registry = registry;
    this.policy = policy;
    this.monitor = options.monitor ?? (new DeploymentMonitor() as RouterMonitor as Monitor);
    if (typeof this.monitor !== 'object' || this.monitor === null || typeof this.monitor.record !== 'function') {
      throw new ValidationError(`monitor must be a DeploymentMonitor (or have its record method), got ${describeValue(options.monitor)}`);
    }
    if (options.pool !== undefined && (options.batching !== undefined || options.warmUp !== undefined)) {
      throw new ValidationError(
        `batching and warmUp configure the router's own pool; with your own pool, set them on it (wrap its create in a BatchingPredictor, pass its warmUp)`,
      );
    }
    this.pool = options.pool ?? (this.#ownPool(registry, options) as RouterPool as Pool);
    if (typeof this.pool !== 'object' || this.pool === null || typeof this.pool.peek !== 'function' || typeof this.pool.get !== 'function') {
      throw new ValidationError(`pool must be a PredictorPool (or have its peek and get methods), got ${describeValue(options.pool)}`);
    }
    // `performance` from node:perf_hooks, not the global: the global is a lazy accessor that costs a
    // getter call (and a global IC miss) on every reading, twice a request.
    this.#clock = options.clock === undefined ? () => performance.now() : checkFunction<Clock>('clock', options.clock);
    this.#recordAt = options.clock === undefined && this.monitor.clock === Date.now ? { at: 0 } : undefined;
    this.#loadRetryMs = checkNumber('loadRetryMs', options.loadRetryMs ?? 5_000, { min: 0 });
    this.#mirror = new ShadowMirror(checkNumber('maxShadowInFlight', options.maxShadowInFlight ?? 64, { min: 0, integer: true }));
    this.#shadow = isMirroring(policy) ? policy : undefined;
    // Warm a version as soon as the policy may send it traffic, before the first request asks:
    // after any event that can change what traffic() says, whatever the policy's class.
    const events = policy as Partial<Pick<EventEmitter<string>, 'on'>>;
    if (typeof events.on === 'function') for (const event of TRAFFIC_EVENTS) events.on(event, this.#prepareTraffic);
    this.deployment = options.deployment === undefined ? this.model : checkName(options.deployment, 'deployment');
    const analyses = options.analysis === undefined ? [] : Array.isArray(options.analysis) ? [...options.analysis] : [options.analysis as object];
    for (const analysis of analyses) {
      if (typeof (analysis as { on?: unknown })?.on !== 'function') {
        throw new ValidationError(`analysis must emit 'analysis' events (canaryAnalysis(…), a blue-green analysis phase), got ${describeValue(analysis)}`);
      }
    }
    const sources = [policy, ...analyses];
    trackPolicy(this.monitor, this.deployment, policy, () => this.#traffic(), sources);
    if (options.logger !== undefined) {
      logEvents(checkLogger(options.logger), { deployment: this.deployment, model: this.model, router: this, pool: this.pool, sources });
    }
  }

  /** The router's own pool, batching and warming as its options say. */
  #ownPool(registry: ModelRegistry, options: ModelRouterOptions<Monitor, Pool>): PredictorPool<ModelVersion> {
    const { batching, warmUp } = options;
    if (batching === undefined || batching === false) return new PredictorPool({ registry, warmUp });
    if (batching !== true && (typeof batching !== 'object' || batching === null)) {
      throw new ValidationError(`batching must be a boolean or batching options, got ${describeValue(batching)}`);
    }
    const batchingOptions = batching === true ? {} : batching;
    resolveBatchingOptions(batchingOptions);
    const pool: PredictorPool<ModelVersion> = new PredictorPool({
      registry,
      warmUp,
      create: async (bytes, v) => {
        const predictor = await OnnxPredictor.create(bytes, { name: v.name, version: v.version, intraOpNumThreads: pool.intraOpNumThreads });
        try {
          return new BatchingPredictor(predictor, batchingOptions);
        } catch (error) {
          await predictor.dispose();
          const reason = error instanceof Error ? error.message : String(error);
          throw new ModelLoadError(`model '${v.name}' v${v.version}: batching is on, but the model ${reason.replace(/^inner /, '')}`, { cause: error });
        }
      },
    });
    return pool;
  }

  /**
   * Answers one request: routes it (or serves `options.version`), runs the version's predictor
   * and records the outcome. See the class description for errors, fallback and shadowing.
   */
  predict(input: PredictInput, options?: RouterPredictOptions): Promise<RouterPrediction> {
    // Synchronous up to the predictor call: the only async frame on the hot path is `serve`.
    if (options !== undefined) {
      // A wrong option type is the caller's mistake: refused before routing, never counted against a version.
      const invalid = invalidPredictOptions(options);
      if (invalid !== undefined) return Promise.reject(invalid);
      if (options.version !== undefined) return this.#predictExplicit(input, options, options.version);
    }
    let assignment: Assignment;
    try {
      assignment = this.policy.route(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const predictor = this.pool.peek(this.model, assignment.version);
    if (predictor === undefined) return this.#predictAcquired(input, options, assignment);
    return this.#serve(input, options, assignment, assignment, predictor);
  }

  async #predictExplicit(input: PredictInput, options: RouterPredictOptions, ref: number | string): Promise<RouterPrediction> {
    const { predictor, served } = await this.#explicit(ref);
    return this.#serve(input, options, served, served, predictor);
  }

  async #predictAcquired(input: PredictInput, options: RouterPredictOptions | undefined, assignment: Assignment): Promise<RouterPrediction> {
    const { predictor, served } = await this.#acquire(assignment);
    return this.#serve(input, options, assignment, served, predictor);
  }

  /**
   * Runs the served version's predictor, records the outcome, and offers a mirror, with one
   * promise layer: the pool's handle of an `OnnxPredictor` settles the request on the session's
   * own promise (its one `then` is the caller's promise); a predictor that takes callbacks (the
   * handle of a `BatchingPredictor`) answers the request object, which settles the router's promise.
   */
  #serve(
    input: PredictInput,
    options: RouterPredictOptions | undefined,
    assignment: Assignment,
    served: Assignment,
    predictor: Predictor,
  ): Promise<RouterPrediction> {
    const signal = options === undefined ? undefined : options.signal;
    const predictOptions: PredictOptions | undefined = signal === undefined ? undefined : { signal };
    const request = new RoutedRequest(this.#settle, input, assignment, served);
    request.started = this.#clock();
    if (settlesOnItsPromise(predictor)) {
      const settled = predictor.predictThen(input, predictOptions, request);
      if (settled !== undefined) return settled;
    }
    const promise = new Promise<RouterPrediction>(capture);
    request.resolve = captured.resolve;
    request.reject = captured.reject;
    // The pool's handle holds its version for the length of the call: an eviction meanwhile waits.
    if (takesCallbacks(predictor)) {
      predictor.predictTo(input, predictOptions, request);
    } else {
      let running: Promise<PredictOutput>;
      try {
        running = predictor.predict(input, predictOptions);
      } catch (error) {
        running = Promise.reject(error);
      }
      running.then(
        (output) => request.answer(output),
        (error: unknown) => request.fail(error),
      );
    }
    return promise;
  }

  /** Records a request that started at `started` and ended at `ended` (router clock) and returns its latency. */
  #recordOutcome(version: number, started: number, success: boolean, ended: number): number {
    const latencyMs = ended - started;
    const recordAt = this.#recordAt;
    if (recordAt === undefined) {
      this.monitor.record(version, latencyMs, success);
    } else {
      recordAt.at = this.#timeOrigin + ended;
      this.monitor.record(version, latencyMs, success, recordAt);
    }
    return latencyMs;
  }

  /**
   * The versions the policy may route to now, with their traffic shares and registry records,
   * for a `/models/:name/versions` endpoint. Reads the registry (not a hot-path call).
   */
  async versions(): Promise<ServedVersion[]> {
    const traffic = this.#traffic();
    const records = await Promise.all(traffic.map((t) => this.registry.getVersion(this.model, t.version)));
    return traffic.map((t, i) => ({ ...t, record: records[i] as ModelVersion }));
  }

  /** What the policy routes where now: its `traffic()`, or for a policy without one its fallback version alone. */
  #traffic(): PolicyTraffic[] {
    if (this.policy.traffic !== undefined) return this.policy.traffic();
    const { version, variant } = this.policy.fallback();
    return [{ version, variant, share: 1 }];
  }

  /**
   * Loads and warms every version the policy may route to now (each pool load runs its warm-up
   * inferences), and resolves when all of them can serve; for a host's startup, before it takes
   * traffic. The router does the same by itself, version by version, after every policy event that
   * can change `traffic()` (a canary starts, steps or resumes, a blue-green switch deploys, a shadow's
   * mirror share changes, any policy is restored). Rejects with the
   * first load error (`IntegrityError`, `ModelLoadError` …) once every load has settled; requests
   * routed to a version that failed are answered by the policy's fallback, as always.
   */
  async warm(): Promise<void> {
    const versions = new Set(this.#traffic().map((t) => t.version));
    versions.add(this.policy.fallback().version);
    const errors = await Promise.all([...versions].map((version) => this.#prepareVersion(version)));
    const failed = errors.find((error) => error !== undefined);
    if (failed !== undefined) throw failed;
  }

  /**
   * Whether the router can answer now without loading or warming anything on a request's path:
   * the policy's fallback version is loaded and warm, and no version is being prepared ahead of
   * traffic (a rollout step that just started turns it `false` until its candidate's warm-up ends).
   * Synchronous and cheap, for a health endpoint: answer 503 while it is `false`.
   */
  ready(): boolean {
    return this.#preparing.size === 0 && this.pool.peek(this.model, this.policy.fallback().version) !== undefined;
  }

  /**
   * Loads and warms `version` off any request's path, once however often it is asked; resolves
   * with the load error, if any (never rejects, so an event handler can drop the promise).
   */
  #prepareVersion(version: number): Promise<unknown> {
    if (this.pool.peek(this.model, version) !== undefined) return Promise.resolve(undefined);
    let preparing = this.#preparing.get(version);
    if (preparing === undefined) {
      preparing = this.#predictorFor(version).then(
        () => {
          this.#unavailable.delete(version);
          this.#preparing.delete(version);
          return undefined;
        },
        (error: unknown) => {
          if (isLoadError(error)) this.#unavailable.set(version, { retryAt: this.#clock() + this.#loadRetryMs, error });
          this.#preparing.delete(version);
          return error;
        },
      );
      this.#preparing.set(version, preparing);
    }
    return preparing;
  }

  /** Counts of mirrored calls: started, completed, failed, dropped, running. */
  get shadowCounters(): Readonly<ShadowCounters> {
    return { ...this.#mirror.counters };
  }

  /** Resolves once no mirrored call is running (for tests and graceful shutdown). */
  drainShadows(): Promise<void> {
    return this.#mirror.idle();
  }

  /** A caller-chosen version: no policy, no fallback. */
  async #explicit(ref: number | string): Promise<{ predictor: Predictor; served: Assignment }> {
    // Resolve first so a load failure can name the version; a number never touches the registry.
    const version = typeof ref === 'number' ? ref : (await this.registry.resolve(this.model, ref as VersionRef)).version;
    const served: Assignment = { version, variant: 'explicit', reason: 'forced', propensity: 1 };
    try {
      return { predictor: await this.#predictorFor(version), served };
    } catch (error) {
      throw withRouting(error, this.model, version, 'explicit');
    }
  }

  /**
   * The slow path of a routed request, when its version is not loaded yet: load it, or, if it
   * cannot be loaded, count a failure against it and answer from the policy's fallback.
   */
  async #acquire(assignment: Assignment): Promise<{ predictor: Predictor; served: Assignment }> {
    const { version, variant } = assignment;
    const down = this.#unavailable.get(version);
    let error: unknown;
    if (down !== undefined && this.#clock() < down.retryAt) {
      error = down.error;
    } else {
      try {
        const predictor = await this.#predictorFor(version);
        this.#unavailable.delete(version);
        return { predictor, served: assignment };
      } catch (loadError) {
        if (!isLoadError(loadError)) throw withRouting(loadError, this.model, version, variant);
        this.#unavailable.set(version, { retryAt: this.#clock() + this.#loadRetryMs, error: loadError });
        error = loadError;
      }
    }
    this.monitor.record(version, 0, false);
    const fallback = this.policy.fallback();
    if (fallback.version === version) throw withRouting(error, this.model, version, variant);
    let predictor: Predictor;
    try {
      predictor = await this.#predictorFor(fallback.version);
    } catch (fallbackError) {
      throw withRouting(fallbackError, this.model, fallback.version, fallback.variant);
    }
    this.emit('fallback', { routed: assignment, fallback, error });
    return { predictor, served: fallback };
  }

  /** The version's pooled predictor: the pool's loaded handle, or a load. */
  #predictorFor(version: number): Promise<Predictor> {
    const loaded = this.pool.peek(this.model, version);
    return loaded === undefined ? this.pool.get(this.model, version) : Promise.resolve(loaded);
  }

  #offerMirror(input: PredictInput, primaryOutput: PredictOutput, shadowVersion: number): void {
    const shadow = this.#shadow as MirroringPolicy;
    const accepted = this.#mirror.offer(async () => {
      const key = shadowKey(shadowVersion);
      const started = this.#clock();
      let output: PredictOutput;
      try {
        const predictor = await this.#predictorFor(shadowVersion);
        output = await predictor.predict(input);
      } catch (error) {
        // Even an InputShapeError counts here: the primary accepted the input, the shadow did not.
        this.monitor.record(key, this.#clock() - started, false);
        shadow.recordShadowError();
        this.emit('shadowFailed', { version: shadowVersion, stage: 'predict', error });
        return false;
      }
      this.monitor.record(key, this.#clock() - started, true);
      try {
        shadow.compare(primaryOutput, output);
      } catch (error) {
        this.emit('shadowFailed', { version: shadowVersion, stage: 'compare', error });
        return false;
      }
      return true;
    });
    if (!accepted) this.emit('shadowDropped', { version: shadowVersion, dropped: this.#mirror.counters.dropped });
  }
}
