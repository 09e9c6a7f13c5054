/**
 * A rolling window without raw values: a ring of per-bucket sketches rotated by the clock.
 * Buckets that leave the window are folded into a `retired` cell, so the lifetime view is
 * `retired` + the live buckets, and recording touches exactly one sketch.
 *
 * @module
 */
import { ValidationError, describeValue } from '../errors.js';
import { type Sketch, type SketchJSON, createSketch, mergeSketchInto, sketchFromJSON, sketchToJSON } from './sketch.js';

/** One bucket: the values recorded in it and how many of them were failures. */
export interface Cell {
  sketch: Sketch;
  failures: number;
}

/** Serialised bucket: its failure count and the sketch of the values recorded in it. */
export interface CellJSON {
  failures: number;
  sketch: SketchJSON;
}

/** Serialised rolling window: the retired total and the live buckets by absolute index. */
export interface RingJSON {
  retired: CellJSON;
  live: Array<CellJSON & { index: number }>;
}

/** A parsed but not yet applied {@link RingJSON}, so a merge can check everything before changing anything. */
export interface ParsedRing {
  retired: Cell;
  live: Array<Cell & { index: number }>;
}

/** Absolute bucket index of an empty slot. */
const EMPTY = Number.NEGATIVE_INFINITY;

export class SketchRing {
  readonly #cells: Cell[];
  /** Absolute bucket index (`floor(time / bucketMs)`) each slot currently holds. */
  readonly #indices: number[];
  readonly #retired: Cell;
  #currentIndex = EMPTY;
  #current: Cell;
  /** Time at which the current bucket ends; recording before it needs no rotation. */
  #nextBoundary = EMPTY;

  readonly #bucketMs: number;
  readonly #relativeAccuracy: number;

  constructor(bucketMs: number, buckets: number, relativeAccuracy: number, now: number) {
    this.#bucketMs = bucketMs;
    this.#relativeAccuracy = relativeAccuracy;
    this.#cells = Array.from({ length: buckets }, () => this.#emptyCell());
    this.#indices = new Array<number>(buckets).fill(EMPTY);
    this.#retired = this.#emptyCell();
    this.#current = this.#cells[0] as Cell;
    this.rotate(now);
  }

  /**
   * The hot path: one comparison against the bucket boundary, then one sketch accept. A clock
   * that goes backwards keeps recording into the current bucket rather than rewriting the past.
   */
  add(now: number, value: number, failed: boolean): void {
    if (now >= this.#nextBoundary) this.rotate(now);
    const cell = this.#current;
    cell.sketch.accept(value);
    if (failed) cell.failures++;
  }

  /**
   * `add` at a time the caller estimated rather than read: an estimate inside the current bucket
   * is trusted; anywhere else `clock()` is read, so rotation always follows the real clock (and an
   * estimate from a faked or skewed source costs a clock read, never a wrong bucket).
   */
  addEstimated(estimate: number, clock: () => number, value: number, failed: boolean): void {
    if (estimate >= this.#nextBoundary || estimate < this.#nextBoundary - this.#bucketMs) this.rotate(clock());
    const cell = this.#current;
    cell.sketch.accept(value);
    if (failed) cell.failures++;
  }

  /** Moves the ring to `now`, retiring every bucket that left the window. */
  rotate(now: number): void {
    if (!Number.isFinite(now)) throw new ValidationError(`clock must return a finite number of ms, got ${describeValue(now)}`);
    const index = Math.floor(now / this.#bucketMs);
    if (index <= this.#currentIndex) return;
    const oldest = index - this.#cells.length + 1;
    for (let slot = 0; slot < this.#cells.length; slot++) {
      const held = this.#indices[slot] as number;
      if (held !== EMPTY && held < oldest) this.#retire(slot);
    }
    const slot = this.#slotOf(index);
    this.#indices[slot] = index;
    this.#current = this.#cells[slot] as Cell;
    this.#currentIndex = index;
    this.#nextBoundary = (index + 1) * this.#bucketMs;
  }

  /** Start of the oldest bucket in the window (after rotating to `now`). */
  windowStart(now: number): number {
    this.rotate(now);
    return (this.#currentIndex - this.#cells.length + 1) * this.#bucketMs;
  }

  /** The live buckets merged into a new cell: the rolling window. */
  rolling(now: number): Cell {
    this.rotate(now);
    const total = this.#emptyCell();
    for (const cell of this.#cells) addCell(total, cell);
    return total;
  }

  /** Retired and live buckets merged into a new cell: everything ever recorded. */
  lifetime(now: number): Cell {
    const total = this.rolling(now);
    addCell(total, this.#retired);
    return total;
  }

  toJSON(): RingJSON {
    const live: RingJSON['live'] = [];
    this.#cells.forEach((cell, slot) => {
      const index = this.#indices[slot] as number;
      if (index !== EMPTY && cell.sketch.count > 0) live.push({ index, ...cellToJSON(cell) });
    });
    return { retired: cellToJSON(this.#retired), live };
  }

  /**
   * Adds a parsed ring from another monitor with the same bucket width. Its buckets land in the
   * slot of the same absolute index when that is still in the window, in `retired` when it is
   * older, and in the current bucket when the other clock ran ahead of this one.
   */
  absorb(parsed: ParsedRing, now: number): void {
    this.rotate(now);
    addCell(this.#retired, parsed.retired);
    const oldest = this.#currentIndex - this.#cells.length + 1;
    for (const incoming of parsed.live) {
      if (incoming.index < oldest) {
        addCell(this.#retired, incoming);
        continue;
      }
      const index = Math.min(incoming.index, this.#currentIndex);
      const slot = this.#slotOf(index);
      this.#indices[slot] = index;
      addCell(this.#cells[slot] as Cell, incoming);
    }
  }

  /** Values recorded and their sum, over every bucket and the retired cell, without merging sketches. */
  totals(): { count: number; sum: number } {
    return ringTotals({ retired: this.#retired, live: this.#cells });
  }

  /**
   * Checks and rebuilds a {@link RingJSON} without touching any ring: at most `buckets` live
   * buckets with distinct indices, the whole ring's count within 2^53 and its sum finite, and with
   * `nonNegative` (latencies) no value below 0.
   */
  static parse(json: unknown, relativeAccuracy: number, buckets: number, where: string, options: { nonNegative?: boolean } = {}): ParsedRing {
    if (typeof json !== 'object' || json === null) {
      throw new ValidationError(`${where} must be an object { retired, live }, got ${describeValue(json)}`);
    }
    const j = json as Record<string, unknown>;
    if (!Array.isArray(j.live) || j.live.length > buckets) {
      throw new ValidationError(`${where}.live must be an array of at most ${buckets} buckets, got ${describeValue(j.live)}`);
    }
    const indices = new Set<number>();
    const parsed: ParsedRing = {
      retired: parseCell(j.retired, relativeAccuracy, `${where}.retired`, options.nonNegative),
      live: Array.from(j.live as unknown[], (entry: unknown, i) => {
        const at = `${where}.live[${i}]`;
        const index = (entry as { index?: unknown } | null)?.index;
        if (!Number.isSafeInteger(index)) throw new ValidationError(`${at}.index must be an integer, got ${describeValue(index)}`);
        if (indices.has(index as number)) throw new ValidationError(`${at}.index ${index as number} appears twice`);
        indices.add(index as number);
        return { index: index as number, ...parseCell(entry, relativeAccuracy, at, options.nonNegative) };
      }),
    };
    const { count, sum } = ringTotals(parsed);
    if (count > Number.MAX_SAFE_INTEGER || !Number.isFinite(sum)) {
      throw new ValidationError(`${where} holds ${count} values summing to ${sum}: past 2^53 values or not finite`);
    }
    return parsed;
  }

  #retire(slot: number): void {
    const cell = this.#cells[slot] as Cell;
    addCell(this.#retired, cell);
    // A fresh sketch once per bucket period, never per record.
    cell.sketch = createSketch(this.#relativeAccuracy);
    cell.failures = 0;
    this.#indices[slot] = EMPTY;
  }

  #slotOf(index: number): number {
    const n = this.#cells.length;
    return ((index % n) + n) % n;
  }

  #emptyCell(): Cell {
    return { sketch: createSketch(this.#relativeAccuracy), failures: 0 };
  }
}

/** Values and their sum over a ring's cells (a live ring's or a parsed one's). */
export function ringTotals(ring: { retired: Cell; live: readonly Cell[] }): { count: number; sum: number } {
  let count = ring.retired.sketch.count;
  let sum = ring.retired.sketch.sum;
  for (const cell of ring.live) {
    count += cell.sketch.count;
    sum += cell.sketch.sum;
  }
  return { count, sum };
}

function addCell(target: Cell, source: Cell): void {
  mergeSketchInto(target.sketch, source.sketch);
  target.failures += source.failures;
}

function cellToJSON(cell: Cell): CellJSON {
  return { failures: cell.failures, sketch: sketchToJSON(cell.sketch) };
}

function parseCell(json: unknown, relativeAccuracy: number, where: string, nonNegative = false): Cell {
  if (typeof json !== 'object' || json === null) {
    throw new ValidationError(`${where} must be an object { failures, sketch }, got ${describeValue(json)}`);
  }
  const j = json as Record<string, unknown>;
  const sketch = sketchFromJSON(j.sketch, relativeAccuracy, `${where}.sketch`);
  if (nonNegative && sketch.count > 0 && (sketch.min < 0 || sketch.negativeStore.count > 0 || sketch.sum < 0)) {
    throw new ValidationError(`${where}.sketch holds negative values (min ${sketch.min}); latencies are >= 0`);
  }
  const failures = j.failures;
  if (typeof failures !== 'number' || !Number.isSafeInteger(failures) || failures < 0 || failures > sketch.count) {
    throw new ValidationError(`${where}.failures must be an integer from 0 to ${sketch.count}, got ${describeValue(failures)}`);
  }
  return { sketch, failures };
}
