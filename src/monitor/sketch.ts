/**
 * Thin layer over `@datadog/sketches-js`: one place that creates, merges, reads, serialises and
 * walks DDSketches, so the rest of the monitor never touches the library's internals.
 *
 * @module
 */
import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';
import { ValidationError, describeValue } from '../errors.js';

/** A DDSketch as this package uses it (log mapping, dense stores collapsing their lowest bins). */
export type Sketch = LogCollapsingLowestDenseDDSketch;

/**
 * Bins per store. With the log mapping at 1 % accuracy, 2048 bins span a ratio of about 6·10¹⁷
 * between the smallest and largest value kept apart (1 ns to 19 years in ms), so real latencies
 * never collapse, while an absurd value (1e-300 ms) cannot grow a store past 2048 numbers.
 */
const BIN_LIMIT = 2048;

/** Serialised sketch (JSON-safe): counts per contiguous key, plus summary statistics. */
export interface SketchJSON {
  /** Number of values accepted. */
  count: number;
  /** Sum of the values accepted. */
  sum: number;
  /** Smallest and largest value accepted (0 when `count` is 0). */
  min: number;
  max: number;
  /** Values too close to zero for the log mapping. */
  zeroCount: number;
  /** Positive values: `counts[i]` is the count of key `offset + i`. */
  positive: StoreJSON;
  /** Negative values, keyed by magnitude like `positive`. */
  negative: StoreJSON;
}

/** One store of a {@link SketchJSON}: counts of the contiguous keys starting at `offset`. */
export interface StoreJSON {
  offset: number;
  counts: number[];
}

type Store = Sketch['store'];

export function createSketch(relativeAccuracy: number): Sketch {
  return new LogCollapsingLowestDenseDDSketch({ relativeAccuracy, binLimit: BIN_LIMIT });
}

/**
 * Merges `source` into `target`. The library's own `merge` forgets the negative store when the
 * target is not empty (DataDog/sketches-js#22), so negative values (model outputs can be
 * negative) would vanish while still being counted; merge that store here.
 */
export function mergeSketchInto(target: Sketch, source: Sketch): void {
  if (source.count === 0) return;
  const targetWasEmpty = target.count === 0;
  target.merge(source);
  if (!targetWasEmpty) target.negativeStore.merge(source.negativeStore);
}

/**
 * The value at quantile `q`, clamped to the exact [min, max] the sketch keeps: the exact
 * quantile lies in that range, so clamping never adds error and makes a constant stream exact.
 * Returns 0 for an empty sketch.
 */
export function quantile(sketch: Sketch, q: number): number {
  if (sketch.count === 0) return 0;
  const value = sketch.getValueAtQuantile(q);
  return Math.min(sketch.max, Math.max(sketch.min, value));
}

export function sketchToJSON(sketch: Sketch): SketchJSON {
  const empty = sketch.count === 0;
  return {
    count: sketch.count,
    sum: sketch.sum,
    min: empty ? 0 : sketch.min,
    max: empty ? 0 : sketch.max,
    zeroCount: sketch.zeroCount,
    positive: storeToJSON(sketch.store),
    negative: storeToJSON(sketch.negativeStore),
  };
}

function storeToJSON(store: Store): StoreJSON {
  if (store.count === 0) return { offset: 0, counts: [] };
  return {
    offset: store.minKey,
    counts: store.bins.slice(store.minKey - store.offset, store.maxKey - store.offset + 1),
  };
}

/**
 * Rebuilds a sketch from its JSON form, checking every field first: a malformed snapshot is a
 * `ValidationError` naming the field (`where` says which part of the snapshot it came from).
 */
export function sketchFromJSON(json: unknown, relativeAccuracy: number, where: string): Sketch {
  if (typeof json !== 'object' || json === null) {
    throw new ValidationError(`${where} must be a sketch object, got ${describeValue(json)}`);
  }
  const j = json as Record<string, unknown>;
  const count = checkCount(`${where}.count`, j.count);
  const zeroCount = checkCount(`${where}.zeroCount`, j.zeroCount);
  const sum = checkFinite(`${where}.sum`, j.sum);
  const min = checkFinite(`${where}.min`, j.min);
  const max = checkFinite(`${where}.max`, j.max);
  const positive = checkStore(`${where}.positive`, j.positive);
  const negative = checkStore(`${where}.negative`, j.negative);
  if (positive.total + negative.total + zeroCount !== count) {
    throw new ValidationError(
      `${where}.count must equal the sum of its bins (${positive.total + negative.total + zeroCount}), got ${describeValue(count)}`,
    );
  }
  if (count > 0 && min > max) {
    throw new ValidationError(`${where}.min must be <= ${where}.max, got ${min} > ${max}`);
  }
  const sketch = createSketch(relativeAccuracy);
  addStore(sketch.store, positive.json);
  addStore(sketch.negativeStore, negative.json);
  sketch.zeroCount = zeroCount;
  sketch.count = count;
  sketch.sum = sum;
  if (count > 0) {
    sketch.min = min;
    sketch.max = max;
  }
  return sketch;
}

function addStore(store: Store, json: StoreJSON): void {
  json.counts.forEach((count, i) => {
    if (count > 0) store.add(json.offset + i, count);
  });
}

function checkStore(where: string, value: unknown): { json: StoreJSON; total: number } {
  if (typeof value !== 'object' || value === null) {
    throw new ValidationError(`${where} must be an object { offset, counts }, got ${describeValue(value)}`);
  }
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.offset)) {
    throw new ValidationError(`${where}.offset must be an integer, got ${describeValue(v.offset)}`);
  }
  if (!Array.isArray(v.counts) || v.counts.length > BIN_LIMIT) {
    throw new ValidationError(`${where}.counts must be an array of at most ${BIN_LIMIT} counts, got ${describeValue(v.counts)}`);
  }
  let total = 0;
  v.counts.forEach((c: unknown, i) => {
    total += checkCount(`${where}.counts[${i}]`, c);
  });
  return { json: { offset: v.offset as number, counts: v.counts as number[] }, total };
}

function checkCount(where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(`${where} must be an integer >= 0, got ${describeValue(value)}`);
  }
  return value;
}

function checkFinite(where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ValidationError(`${where} must be a finite number, got ${describeValue(value)}`);
  }
  return value;
}

/** A sketch's distribution as ascending (value, count) pairs: one pair per non-empty bin. */
export interface SketchHistogram {
  values: Float64Array;
  counts: Float64Array;
}

/**
 * Walks the bins of a sketch in ascending value order. Two sketches with the same accuracy map
 * equal bins to bit-identical representative values, so their histograms line up exactly.
 */
export function sketchHistogram(sketch: Sketch): SketchHistogram {
  const values: number[] = [];
  const counts: number[] = [];
  const { mapping, store, negativeStore } = sketch;
  if (negativeStore.count > 0) {
    for (let key = negativeStore.maxKey; key >= negativeStore.minKey; key--) {
      const c = negativeStore.bins[key - negativeStore.offset] ?? 0;
      if (c > 0) {
        values.push(-mapping.value(key));
        counts.push(c);
      }
    }
  }
  if (sketch.zeroCount > 0) {
    values.push(0);
    counts.push(sketch.zeroCount);
  }
  if (store.count > 0) {
    for (let key = store.minKey; key <= store.maxKey; key++) {
      const c = store.bins[key - store.offset] ?? 0;
      if (c > 0) {
        values.push(mapping.value(key));
        counts.push(c);
      }
    }
  }
  return { values: Float64Array.from(values), counts: Float64Array.from(counts) };
}
