import { availableParallelism } from 'node:os';
import { EventEmitter } from 'eventemitter3';
import { InvalidStateError, ModelLoadError, ValidationError, describeValue } from '../errors.js';
import { checkFunction, checkNumber } from '../options.js';
import type { VersionRef } from '../registry/model-version.js';
import type { ModelSignature } from '../registry/signature.js';
import { BatchingPredictor } from './batching-predictor.js';
import { OnnxPredictor } from './onnx-predictor.js';
import { settlesOnItsPromise, takesCallbacks, type PredictCallback, type PredictHandler, type PredictInput, type PredictOptions, type PredictOutput, type Predictor } from './types.js';
import { signatureSample } from './warm-up.js';

/** What the pool needs of a version record: its model name and version number. */
export interface PoolVersion {
  name: string;
  version: number;
}

/**
 * The registry methods the pool calls; `ModelRegistry` has them, and so can any other source of
 * sha256-verified artifacts.
 */
export interface PoolRegistry<V extends PoolVersion = PoolVersion> {
  /** Resolves a reference (`3`, `'latest'`, `'@production'`) to a version record. */
  resolve(name: string, ref: VersionRef): Promise<V>;
  /** The version's artifact, checked against its recorded sha256 (`IntegrityError` otherwise). */
  loadArtifact(name: string, ref: VersionRef): Promise<Uint8Array>;
  /**
   * A local path of the version's artifact, verified against its recorded sha256 (optional).
   * When present, the default `create` and `createFromFile` open models by path, so a model of
   * gigabytes is not held in memory on the way to onnxruntime.
   */
  loadArtifactFile?(name: string, ref: VersionRef): Promise<string>;
}

/** Options of {@link PredictorPool}. */
export interface PredictorPoolOptions<V extends PoolVersion = PoolVersion> {
  registry: PoolRegistry<V>;
  /**
   * Turns verified bytes into a predictor (default:
   * `OnnxPredictor.create(bytes, { name, version, intraOpNumThreads })`, with the pool's
   * `intraOpNumThreads`). Wrap here to batch:
   * `(bytes, v) => OnnxPredictor.create(bytes).then((p) => new BatchingPredictor(p))`.
   */
  create?: (bytes: Uint8Array, version: V) => Promise<Predictor>;
  /**
   * Like `create`, from the path of the verified artifact (`registry.loadArtifactFile`, which
   * the registry must then have): `(file, v) => OnnxPredictor.create(file).then(…)`. Give one of
   * `create` and `createFromFile`. Without either, the pool opens models by path when the
   * registry has `loadArtifactFile`, and from bytes otherwise.
   */
  createFromFile?: (file: string, version: V) => Promise<Predictor>;
  /** Most versions kept loaded (default 4); beyond it the least recently used is evicted. */
  maxLoaded?: number;
  /**
   * Threads each loaded version's session may use inside one operator, for the default `create`
   * (default: the machine's cores divided by `maxLoaded`, at least 1, so that every version the
   * pool may hold, running at once, fits the cores instead of each spinning a thread per core).
   */
  intraOpNumThreads?: number;
  /**
   * Inferences run on each version once it is loaded and before any `get` returns it (default
   * `true`: 3 runs on an input built from the signature); `false` hands versions out cold. A
   * warm-up that fails fails the load with `ModelLoadError`, as Triton does: a version that
   * cannot answer its own signature's input is not served.
   */
  warmUp?: boolean | WarmUpOptions<V>;
}

/** How {@link PredictorPool} warms a version up once it is loaded, before anyone can use it. */
export interface WarmUpOptions<V extends PoolVersion = PoolVersion> {
  /**
   * Inferences run (default 3): onnxruntime's first run of a session allocates and picks its
   * kernels (0.2–10 ms here against 0.02 ms steady), the second is still slow at times, the third
   * is steady. A `BatchingPredictor` then also answers one burst of `maxBatchSize` concurrent
   * warm-up requests, so the batch size it runs under load is warm too.
   */
  runs?: number;
  /**
   * The input to warm with, e.g. a real request the host kept (default, or when it returns
   * `undefined`: zeros of each input's type in the signature's shape, symbolic dims as 1). A
   * version with neither is loaded without a warm-up (`warmUpRuns: 0` in `loaded`).
   */
  sample?: (version: V, signature: ModelSignature | undefined) => PredictInput | undefined;
}

/** Intra-op threads per version so that `maxLoaded` versions running at once fit `cores`. */
function threadsPerVersion(cores: number, maxLoaded: number): number {
  return Math.max(1, Math.floor(cores / maxLoaded));
}

/** Events of {@link PredictorPool}, with their payloads. */
export interface PredictorPoolEvents {
  /**
   * A version finished loading and warming up and is ready to serve: `loadMs` in all, of which
   * `warmUpMs` for its `warmUpRuns` warm-up inferences (0 when not warmed).
   */
  loaded: [event: { name: string; version: number; loadMs: number; warmUpRuns: number; warmUpMs: number }];
  /** A version left the pool (LRU or `unload`); it is disposed once its running predictions finish. */
  evicted: [event: { name: string; version: number; reason: 'lru' | 'unload' | 'dispose' }];
  /** A load failed (missing version, `IntegrityError`, `ModelLoadError`…); nothing was cached, the next `get` retries. */
  loadFailed: [event: { name: string; ref: VersionRef; error: unknown }];
}

/** One `peek` in this many (a power of two, minus one as a mask) refreshes its version's place in the LRU. */
const PEEK_RECENCY_EVERY = 1023;

class Entry {
  predictor: Predictor | undefined = undefined;
  inFlight = 0;
  /** Out of the pool's LRU: no new `get` or `peek` hands it out; it is disposed once idle. */
  evicted = false;
  /** Its predictor's `dispose()` has begun: nothing may run on it any more. */
  disposing = false;
  disposed: Promise<void> | undefined = undefined;
  drained: (() => void) | undefined = undefined;
  /** The handle `peek` hands out, made once. */
  shared: PooledPredictor | undefined = undefined;
  /** Settles a held call: shared by every call of this entry, so holding one costs no closure. */
  readonly releaseWith = (output: PredictOutput): PredictOutput => {
    this.#release();
    return output;
  };
  readonly releaseRethrow = (error: unknown): never => {
    this.#release();
    throw error;
  };
  constructor(
    readonly key: string,
    readonly name: string,
    readonly version: number,
    public loading: Promise<Entry> | undefined,
  ) {}

  /**
   * Runs one call of the loaded predictor, holding the entry (so it is not disposed) until the
   * call settles, whether it answers, rejects or throws. Only while `!disposing`. A predictor that
   * takes callbacks settles every call it accepted before its `dispose()` resolves, so its calls
   * need no holding: they go to it directly, with no promise layer of the pool's.
   */
  hold(input: PredictInput, options: PredictOptions | undefined): Promise<PredictOutput> {
    const predictor = this.predictor as Predictor;
    if (takesCallbacks(predictor)) return predictor.predict(input, options);
    this.inFlight++;
    let running: Promise<PredictOutput>;
    try {
      running = predictor.predict(input, options);
    } catch (error) {
      this.#release();
      return Promise.reject(error);
    }
    return running.then(this.releaseWith, this.releaseRethrow);
  }

  /** {@link Entry.hold} answering through `callback`. */
  holdTo(input: PredictInput, options: PredictOptions | undefined, callback: PredictCallback): void {
    const predictor = this.predictor as Predictor;
    if (takesCallbacks(predictor)) return predictor.predictTo(input, options, callback);
    this.hold(input, options).then(
      (output) => callback.answer(output),
      (error: unknown) => callback.fail(error),
    );
  }

  /** {@link Entry.hold} settled on the predictor's own promise, or `undefined` when it has none to offer. */
  holdThen<R>(input: PredictInput, options: PredictOptions | undefined, handler: PredictHandler<R>): Promise<R> | undefined {
    const predictor = this.predictor as Predictor;
    return settlesOnItsPromise(predictor) ? predictor.predictThen(input, options, handler) : undefined;
  }

  #release(): void {
    if (--this.inFlight === 0 && this.drained) this.drained();
  }
}

/**
 * A loaded version as handed out by {@link PredictorPool.get} and {@link PredictorPool.peek}. Its
 * `predict` holds the version for the length of the call, so an eviction waits for it: there is
 * nothing to release. After an eviction the handle still works: a call that starts once the
 * evicted predictor is being disposed loads the version again, so an eviction never fails a call.
 */
export class PooledPredictor implements Predictor {
  /** Model name. */
  readonly name: string;
  /** Version number this handle serves. */
  readonly version: number;
  /** @internal */
  entry: Entry;
  readonly #pool: PredictorPool<PoolVersion>;
  #detached = false;

  /** @internal */
  constructor(pool: PredictorPool<PoolVersion>, entry: Entry) {
    this.#pool = pool;
    this.entry = entry;
    this.name = entry.name;
    this.version = entry.version;
  }

  /** The loaded model's signature. */
  get signature(): ModelSignature | undefined {
    return this.entry.predictor?.signature;
  }

  /** Runs one prediction on this version, keeping it loaded until the call settles. */
  predict(input: PredictInput, options?: PredictOptions): Promise<PredictOutput> {
    // No async frame of its own on the hot path: the entry's hold adds one `then` to the inner call.
    // An evicted entry whose running calls have not finished is still whole: holding it is safe.
    if (this.#detached || this.entry.disposing) return this.#reloadAndPredict(input, options);
    return this.entry.hold(input, options);
  }

  /**
   * {@link PooledPredictor.predict} answering through `callback`, with no promise of its own when
   * the version's predictor takes callbacks (`OnnxPredictor`, `BatchingPredictor`).
   * @internal
   */
  predictTo(input: PredictInput, options: PredictOptions | undefined, callback: PredictCallback): void {
    if (!this.#detached && !this.entry.disposing) return this.entry.holdTo(input, options, callback);
    this.#reloadAndPredict(input, options).then(
      (output) => callback.answer(output),
      (error: unknown) => callback.fail(error),
    );
  }

  /**
   * {@link PooledPredictor.predict} settled by `handler` on the version's own promise, when its
   * predictor has one to offer (`OnnxPredictor`); `undefined`, having started nothing, otherwise
   * (a `BatchingPredictor`, a detached handle or an evicted entry): use `predictTo` then.
   * @internal
   */
  predictThen<R>(input: PredictInput, options: PredictOptions | undefined, handler: PredictHandler<R>): Promise<R> | undefined {
    return this.#detached || this.entry.disposing ? undefined : this.entry.holdThen(input, options, handler);
  }

  async #reloadAndPredict(input: PredictInput, options: PredictOptions | undefined): Promise<PredictOutput> {
    if (this.#detached) throw new InvalidStateError(`handle of model '${this.name}' v${this.version} was disposed; get another from the pool`);
    // Another load finishing between this get and the hold can evict the entry again: take the next one.
    let entry = this.entry;
    while (entry.disposing) entry = (await this.#pool.get(this.name, this.version)).entry;
    this.entry = entry;
    return entry.hold(input, options);
  }

  /**
   * Detaches this handle: later `predict` calls on it reject with `InvalidStateError`. The version
   * stays loaded, since other callers share it; `pool.unload(name, version)` unloads it. The handle
   * of `peek()` is the pool's own, shared by every caller: disposing it does nothing.
   */
  async dispose(): Promise<void> {
    if (this.entry.shared !== this) this.#detached = true;
  }
}

/**
 * Loaded predictors keyed by (model, version): one load per key however many callers ask at once,
 * least-recently-used eviction beyond `maxLoaded`, and disposal only once an evicted version's
 * running predictions have finished. Artifacts come from `registry.loadArtifactFile` (a verified
 * local path, opened by onnxruntime itself) or `registry.loadArtifact` (verified bytes), both of
 * which check their sha256, so a corrupted blob fails the load (`loadFailed`, `IntegrityError`)
 * and is never served.
 *
 * @example
 * ```ts
 * const pool = new PredictorPool({ registry, maxLoaded: 4 });
 * pool.on('loadFailed', ({ name, ref, error }) => log.error({ name, ref, error }));
 * const predictor = await pool.get('iris', '@production');
 * const output = await predictor.predict([5.1, 3.5, 1.4, 0.2]);
 * ```
 */
export class PredictorPool<V extends PoolVersion = PoolVersion> extends EventEmitter<PredictorPoolEvents> {
  /** Most versions kept loaded. */
  readonly maxLoaded: number;
  /** Intra-op threads of each version the default `create` loads. */
  readonly intraOpNumThreads: number;
  /** Warm-up inferences run on each loaded version (0: none). */
  readonly warmUpRuns: number;
  readonly #warmUpSample: ((version: V, signature: ModelSignature | undefined) => PredictInput | undefined) | undefined;
  readonly #registry: PoolRegistry<V>;
  /** Loads the verified artifact of `v` and creates its predictor. */
  readonly #create: (v: V) => Promise<Predictor>;
  /** Insertion order is recency: a hit moves its entry to the end. */
  readonly #entries = new Map<string, Entry>();
  /** The same entries by model and version, so `peek` builds no key string. */
  readonly #byModel = new Map<string, Map<number, Entry>>();
  #peeks = 0;
  #closed = false;

  constructor(options: PredictorPoolOptions<V>) {
    super();
    if (typeof options !== 'object' || options === null) throw new ValidationError(`options must be an object, got ${describeValue(options)}`);
    const { registry } = options;
    if (typeof registry !== 'object' || registry === null || typeof registry.resolve !== 'function' || typeof registry.loadArtifact !== 'function') {
      throw new ValidationError(`registry must have resolve() and loadArtifact(), got ${describeValue(registry)}`);
    }
    this.#registry = registry;
    this.maxLoaded = checkNumber('maxLoaded', options.maxLoaded ?? 4, { min: 1, integer: true });
    this.intraOpNumThreads = checkNumber('intraOpNumThreads', options.intraOpNumThreads ?? threadsPerVersion(availableParallelism(), this.maxLoaded), {
      min: 1,
      integer: true,
    });
    const warmUp = options.warmUp ?? true;
    if (typeof warmUp !== 'boolean' && (typeof warmUp !== 'object' || warmUp === null)) {
      throw new ValidationError(`warmUp must be a boolean or { runs, sample }, got ${describeValue(warmUp)}`);
    }
    const warmUpOptions = typeof warmUp === 'object' ? warmUp : {};
    this.warmUpRuns = warmUp === false ? 0 : checkNumber('warmUp.runs', warmUpOptions.runs ?? 3, { min: 0, integer: true });
    this.#warmUpSample =
      warmUpOptions.sample === undefined
        ? undefined
        : checkFunction<(version: V, signature: ModelSignature | undefined) => PredictInput | undefined>('warmUp.sample', warmUpOptions.sample);
    this.#create = this.#creator(options);
  }

  #creator(options: PredictorPoolOptions<V>): (v: V) => Promise<Predictor> {
    const registry = this.#registry;
    const { create, createFromFile } = options;
    if (create !== undefined && createFromFile !== undefined) throw new ValidationError('give create or createFromFile, not both');
    if (create !== undefined) {
      const fromBytes = checkFunction<(bytes: Uint8Array, version: V) => Promise<Predictor>>('create', create);
      return async (v) => fromBytes(await registry.loadArtifact(v.name, v.version), v);
    }
    const loadFile = registry.loadArtifactFile;
    if (loadFile !== undefined && typeof loadFile !== 'function') {
      throw new ValidationError(`registry.loadArtifactFile must be a function when present, got ${describeValue(loadFile)}`);
    }
    if (createFromFile !== undefined) {
      const fromFile = checkFunction<(file: string, version: V) => Promise<Predictor>>('createFromFile', createFromFile);
      if (loadFile === undefined) throw new ValidationError('createFromFile needs a registry with loadArtifactFile()');
      return async (v) => fromFile(await loadFile.call(registry, v.name, v.version), v);
    }
    const intraOpNumThreads = this.intraOpNumThreads;
    return async (v) => {
      const source = loadFile === undefined ? await registry.loadArtifact(v.name, v.version) : await loadFile.call(registry, v.name, v.version);
      return OnnxPredictor.create(source, { name: v.name, version: v.version, intraOpNumThreads });
    };
  }

  /** Versions currently loaded or loading, least recently used first, as `name@version`. */
  keys(): string[] {
    return [...this.#entries.keys()];
  }

  /**
   * The hot path of a caller that already knows the version number: the loaded version's handle,
   * synchronously, or `undefined` when it is not loaded (still loading, never asked for, evicted,
   * or the pool is disposed): then `await get(name, version)`. The handle is the pool's own, shared
   * by every caller, so a request costs no allocation. One call in `PEEK_RECENCY_EVERY` + 1
   * also refreshes the version's place in the LRU, so a busy version is not evicted.
   */
  peek(name: string, version: number): PooledPredictor | undefined {
    const entry = this.#byModel.get(name)?.get(version);
    if (entry === undefined || entry.loading !== undefined || entry.evicted) return undefined;
    if ((++this.#peeks & PEEK_RECENCY_EVERY) === 0) {
      this.#entries.delete(entry.key);
      this.#entries.set(entry.key, entry);
    }
    return (entry.shared ??= new PooledPredictor(this as unknown as PredictorPool<PoolVersion>, entry));
  }

  /**
   * Returns the predictor of `name` at `ref` (a version number, `'latest'` or `'@alias'`),
   * loading it on first use. A version number is looked up without touching the registry once
   * loaded; `'latest'` and aliases are resolved by the registry on every call, so an alias move
   * takes effect at once. Rejects with the registry's or the loader's error, e.g.
   * `NotFoundError`, `IntegrityError` or `ModelLoadError`.
   */
  async get(name: string, ref: VersionRef): Promise<PooledPredictor> {
    if (this.#closed) throw new InvalidStateError('predictor pool is disposed');
    if (typeof name !== 'string') throw new ValidationError(`name must be a string, got ${describeValue(name)}`);
    let record: V | undefined;
    let version: number;
    if (typeof ref === 'number') {
      version = ref;
    } else {
      try {
        record = await this.#registry.resolve(name, ref);
      } catch (error) {
        this.emit('loadFailed', { name, ref, error });
        throw error;
      }
      version = record.version;
    }
    const key = `${name}@${version}`;
    let entry = this.#entries.get(key);
    if (entry) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    } else {
      entry = new Entry(key, name, version, undefined);
      entry.loading = this.#load(entry, ref, record);
      this.#entries.set(key, entry);
      let versions = this.#byModel.get(name);
      if (versions === undefined) this.#byModel.set(name, (versions = new Map()));
      versions.set(version, entry);
    }
    if (entry.loading) await entry.loading;
    // A handle per caller, so one caller's dispose() detaches only its own.
    return new PooledPredictor(this as unknown as PredictorPool<PoolVersion>, entry);
  }

  /** Loads `name` at `ref` ahead of traffic and returns the version number loaded. */
  async preload(name: string, ref: VersionRef): Promise<number> {
    return (await this.get(name, ref)).version;
  }

  async #load(entry: Entry, ref: VersionRef, known: V | undefined): Promise<Entry> {
    const started = performance.now();
    let warmUpRuns = 0;
    let warmUpMs = 0;
    try {
      const record = known ?? (await this.#registry.resolve(entry.name, entry.version));
      const predictor = await this.#create(record);
      const warmStarted = performance.now();
      warmUpRuns = await this.#warm(entry, record, predictor);
      warmUpMs = warmUpRuns === 0 ? 0 : performance.now() - warmStarted;
      entry.predictor = predictor;
    } catch (error) {
      if (this.#entries.get(entry.key) === entry) this.#forget(entry);
      this.emit('loadFailed', { name: entry.name, ref, error });
      throw error;
    }
    entry.loading = undefined;
    if (entry.evicted || this.#closed) {
      // Unloaded while loading: nobody may keep it.
      entry.evicted = true;
      this.#retire(entry);
    } else {
      this.emit('loaded', { name: entry.name, version: entry.version, loadMs: performance.now() - started, warmUpRuns, warmUpMs });
      this.#evictBeyondLimit(entry);
    }
    return entry;
  }

  /**
   * Runs the warm-up inferences on a freshly created predictor and returns how many ran; a failure
   * disposes it and becomes the load's `ModelLoadError`.
   */
  async #warm(entry: Entry, record: V, predictor: Predictor): Promise<number> {
    if (this.warmUpRuns === 0) return 0;
    let input: PredictInput | undefined;
    try {
      input = this.#warmUpSample?.(record, predictor.signature);
      if (input === undefined && predictor.signature) input = signatureSample(predictor.signature);
      if (input === undefined) return 0;
      for (let i = 0; i < this.warmUpRuns; i++) await predictor.predict(input);
      // A batching predictor also meets the batch it will run under load: as many concurrent
      // requests as a batch holds (the first runs alone, the others as one batch), so onnxruntime's
      // first run of that size (new buffers, other kernels' paths) happens here, not to traffic.
      if (predictor instanceof BatchingPredictor) {
        const sample = input;
        await Promise.all(Array.from({ length: predictor.options.maxBatchSize }, () => predictor.predict(sample)));
      }
    } catch (error) {
      await predictor.dispose().catch(() => undefined);
      const reason = error instanceof Error ? error.message : String(error);
      throw new ModelLoadError(`model '${entry.name}' v${entry.version}: warm-up inference failed: ${reason}`, { cause: error });
    }
    return this.warmUpRuns;
  }

  /**
   * Evicts the least recently used loaded versions until at most `maxLoaded` are loaded. Loads in
   * progress do not count, and the version that has just loaded is kept: its callers are waiting
   * for it, and evicting it at once would only make them load it again.
   */
  #evictBeyondLimit(justLoaded: Entry): void {
    let loaded = 0;
    for (const entry of this.#entries.values()) if (entry.loading === undefined) loaded++;
    for (const entry of this.#entries.values()) {
      if (loaded <= this.maxLoaded) break;
      if (entry.loading !== undefined || entry === justLoaded) continue;
      this.#evict(entry, 'lru');
      loaded--;
    }
  }

  #forget(entry: Entry): void {
    this.#entries.delete(entry.key);
    const versions = this.#byModel.get(entry.name);
    if (versions?.get(entry.version) === entry) {
      versions.delete(entry.version);
      if (versions.size === 0) this.#byModel.delete(entry.name);
    }
  }

  #evict(entry: Entry, reason: 'lru' | 'unload' | 'dispose'): Promise<void> {
    this.#forget(entry);
    entry.evicted = true;
    if (entry.loading) return entry.loading.then(() => entry.disposed, () => undefined);
    this.emit('evicted', { name: entry.name, version: entry.version, reason });
    return this.#retire(entry);
  }

  /**
   * Disposes an evicted entry's predictor once no call holds it. A handle may still start a call
   * on it until then, so the idle check and `disposing` are set in one synchronous step.
   */
  #retire(entry: Entry): Promise<void> {
    entry.disposed ??= (async () => {
      while (entry.inFlight > 0) await new Promise<void>((resolve) => (entry.drained = resolve));
      entry.disposing = true;
      await entry.predictor?.dispose();
    })();
    return entry.disposed;
  }

  /**
   * Removes `name` at `version` from the pool; resolves once its predictor is disposed (after its
   * running predictions finish). Unknown versions are ignored.
   */
  async unload(name: string, version: number): Promise<void> {
    const entry = this.#entries.get(`${name}@${version}`);
    if (entry) await this.#evict(entry, 'unload');
  }

  /** Unloads every version and refuses later `get` calls; resolves when all are disposed. */
  async dispose(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#entries.values()].map((entry) => this.#evict(entry, 'dispose')));
  }
}
