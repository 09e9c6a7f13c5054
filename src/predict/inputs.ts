/**
 * Turns every accepted input form into onnxruntime tensors, validating against the model's
 * signature first, so a bad input fails with an `InputShapeError` that names the input and says
 * what was expected and what was given, before any work is queued or run.
 *
 * @module
 */
import { Tensor } from 'onnxruntime-node';
import { InputShapeError, describeValue } from '../errors.js';
import type { ModelSignature, TensorSpec } from '../registry/signature.js';
import { firstNonFinite, firstNonFiniteHalf } from './outputs.js';
import type { NumericArray, PredictInput, TensorData, TensorInput } from './types.js';

/** @internal */
export type TargetArray = NumericArray | string[];
type ArrayConstructor = new (length: number) => TargetArray;
type ElementKind = 'float' | 'int' | 'bigint' | 'bool' | 'string';

const KINDS: Record<string, { kind: ElementKind; ctor: ArrayConstructor; min?: number; max?: number }> = {
  // Finite doubles beyond float32's range would become Infinity on conversion, so they are refused too.
  float32: { kind: 'float', ctor: Float32Array, min: -3.4028234663852886e38, max: 3.4028234663852886e38 },
  float64: { kind: 'float', ctor: Float64Array, min: -Number.MAX_VALUE, max: Number.MAX_VALUE },
  int8: { kind: 'int', ctor: Int8Array, min: -128, max: 127 },
  uint8: { kind: 'int', ctor: Uint8Array, min: 0, max: 255 },
  int16: { kind: 'int', ctor: Int16Array, min: -32768, max: 32767 },
  uint16: { kind: 'int', ctor: Uint16Array, min: 0, max: 65535 },
  int32: { kind: 'int', ctor: Int32Array, min: -2147483648, max: 2147483647 },
  uint32: { kind: 'int', ctor: Uint32Array, min: 0, max: 4294967295 },
  int64: { kind: 'bigint', ctor: BigInt64Array, min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
  uint64: { kind: 'bigint', ctor: BigUint64Array, min: 0, max: Number.MAX_SAFE_INTEGER },
  bool: { kind: 'bool', ctor: Uint8Array },
  string: { kind: 'string', ctor: Array as unknown as ArrayConstructor },
};

/**
 * One model input, prepared once per predictor so the per-request path only compares numbers.
 * @internal
 */
export class InputPlan {
  readonly name: string;
  readonly type: string;
  readonly kind: ElementKind | undefined;
  readonly ctor: ArrayConstructor | undefined;
  readonly min: number;
  readonly max: number;
  /** Declared shape; empty means onnxruntime does not know it, so any dims pass. */
  readonly shape: ReadonlyArray<number | string>;
  readonly batchDynamic: boolean;
  /** Dims after the first, when the shape is known and they are all fixed (`undefined` otherwise). */
  readonly rowDims: readonly number[] | undefined;
  /** Elements per row (product of `rowDims`), or -1 when a dim after the first is symbolic. */
  readonly rowSize: number;
  /** `[1, ...rowDims]`, when `rowDims` is known. */
  readonly #oneRowDims: readonly number[] | undefined;
  /** Whether one row without its batch dim is a whole input (the batch dim is symbolic or 1). */
  readonly #oneRowFits: boolean;
  /**
   * `oneRowDims` when a flat array of `rowSize` values is a whole valid input (the batch dim is
   * symbolic or 1, the row is not empty), so {@link InputPlan.toTensor} can take the commonest
   * call, one row as `number[]`, without the general form checks.
   */
  readonly #flatRowDims: readonly number[] | undefined;
  /** `'x' float32[N,4]`, for messages. */
  readonly label: string;
  readonly #where: string;

  constructor(spec: TensorSpec, where: string) {
    this.name = spec.name;
    this.type = spec.type;
    const info = KINDS[spec.type];
    this.kind = info?.kind;
    this.ctor = info?.ctor;
    this.min = info?.min ?? -Infinity;
    this.max = info?.max ?? Infinity;
    this.shape = spec.shape;
    this.batchDynamic = typeof spec.shape[0] === 'string';
    const rest = spec.shape.slice(1);
    this.rowDims = spec.shape.length > 0 && rest.every((d): d is number => typeof d === 'number') ? rest : undefined;
    this.rowSize = this.rowDims ? this.rowDims.reduce((a, b) => a * b, 1) : -1;
    // The dims of one row are the same on every call: built once, frozen, shared by every tensor.
    this.#oneRowDims = this.rowDims && spec.shape.length >= 2 ? Object.freeze([1, ...this.rowDims]) : undefined;
    this.#oneRowFits = this.batchDynamic || spec.shape[0] === 1;
    this.#flatRowDims = this.#oneRowFits && this.rowSize > 0 && this.ctor ? this.#oneRowDims : undefined;
    this.label = `'${spec.name}' ${spec.type}[${spec.shape.join(',')}]`;
    this.#where = where;
  }

  fail(given: string): InputShapeError {
    return new InputShapeError(`${this.#where}expected ${this.label}, got ${given}`);
  }

  /**
   * Checks the structure of an array or typed-array form and returns its number of rows (its
   * dim 0) without touching the values; `-1` means the value is not an array form.
   */
  rowsOf(value: TensorInput): number {
    const rows = this.#rowsOfForm(value);
    const fixed = this.shape[0];
    if (rows >= 0 && typeof fixed === 'number' && rows !== fixed) {
      throw this.fail(this.shape.length === 1 ? `${rows} values` : `${rows} rows (the model's batch size is fixed)`);
    }
    return rows;
  }

  #rowsOfForm(value: TensorInput): number {
    if (ArrayBuffer.isView(value)) return this.#rowsOfFlatRow((value as NumericArray).length);
    if (!Array.isArray(value)) return -1;
    if (!Array.isArray(value[0])) {
      if (value.length === 0) throw this.fail('an empty array (no rows)');
      return this.#rowsOfFlatRow(value.length);
    }
    const dims = this.#nestedDims(value);
    const skip = dims.length - nestingOf(value);
    if (value.length !== dims[skip]) {
      throw this.fail(`${value.length} values at depth 1, expected ${dims[skip]} (dims [${dims.join(',')}])`);
    }
    this.#checkNested(value, 1, dims, skip, [], 0);
    return dims[0] as number;
  }

  #rowsOfFlatRow(length: number): number {
    if (length === 0) throw this.fail('0 values (an empty batch)');
    if (this.shape.length <= 1) return this.shape.length === 1 ? length : 1;
    if (this.rowSize >= 0 && length !== this.rowSize) throw this.fail(`${length} values`);
    if (this.rowSize < 0 && this.shape.length > 2) {
      throw this.fail(`a flat row; an input with symbolic inner dims takes nested arrays, { data, dims } or a Tensor`);
    }
    return 1;
  }

  /**
   * Dims of a nested-array form (arrays of arrays, any depth): the length at each depth of the
   * first element, except that a fixed dim of the declared shape after the first wins (the check
   * then names the element that differs). A form one level shallower than the shape is one row
   * when the batch dim is symbolic or 1. Throws for a depth that fits neither.
   */
  #nestedDims(value: readonly unknown[]): number[] {
    const dims: number[] = [];
    for (let level: unknown = value; Array.isArray(level); level = level[0]) {
      if (level.length === 0) throw this.fail(`an empty array at depth ${dims.length + 1}`);
      dims.push(level.length);
    }
    const rank = this.shape.length;
    const depth = dims.length;
    if (rank === 1) throw this.fail(`rows (an array of arrays); a rank-1 input takes a flat array`);
    if (rank !== 0 && depth !== rank) {
      if (depth !== rank - 1 || !this.#oneRowFits) {
        const oneRow = this.#oneRowFits ? ` (or ${rank === 2 ? 'a flat array' : `${rank - 1}-level nested arrays`} for one row)` : '';
        throw this.fail(`${depth}-level nested arrays; a rank-${rank} input takes ${rank}-level nested arrays${oneRow}`);
      }
      dims.unshift(1);
    }
    for (let i = 1; i < rank; i++) {
      const want = this.shape[i];
      if (typeof want === 'number') dims[i] = want;
    }
    return dims;
  }

  /**
   * Checks that every array below `array` (at `depth`, 1 = the value itself) has the length `dims`
   * gives its depth, so the form is a full block; `skip` is 1 when the value is one row without
   * its batch dim. `at` holds the indices leading to `array`, for messages. The leaves are checked
   * when written.
   */
  #checkNested(array: readonly unknown[], depth: number, dims: readonly number[], skip: number, at: number[], atLength: number): void {
    if (depth + skip >= dims.length) return;
    const want = dims[depth + skip] as number;
    for (let i = 0; i < array.length; i++) {
      const child: unknown = array[i];
      at[atLength] = i;
      if (!Array.isArray(child)) {
        throw this.fail(`${indexPath(at, atLength + 1)} (depth ${depth + 1}) as ${describeValue(child)}, expected an array of ${want} values (dims [${dims.join(',')}])`);
      }
      if (child.length !== want) {
        throw this.fail(`${indexPath(at, atLength + 1)} (depth ${depth + 1}) with ${child.length} values, expected ${want} (dims [${dims.join(',')}])`);
      }
      this.#checkNested(child, depth + 1, dims, skip, at, atLength + 1);
    }
  }

  /** Dims of an array form with `rows` rows, as {@link InputPlan.rowsOf} accepted it. */
  dimsOf(value: readonly unknown[] | NumericArray, rows: number): readonly number[] {
    if (rows === 1 && this.#oneRowDims) return this.#oneRowDims;
    if (Array.isArray(value[0])) return this.rowDims ? [rows, ...this.rowDims] : this.#nestedDims(value as readonly unknown[]);
    if (this.shape.length === 0) return [value.length];
    if (this.shape.length === 1) return [rows];
    if (this.rowDims) return [rows, ...this.rowDims];
    return [rows, value.length];
  }

  /** Validates explicit dims against the declared shape; builds no string unless it throws. */
  checkDims(dims: readonly number[], type: string): void {
    const rank = dims.length;
    for (let i = 0; i < rank; i++) {
      const d = dims[i] as number;
      if (!Number.isSafeInteger(d) || d < 0) throw this.fail(`dims [${dims.join(',')}]`);
    }
    const shape = this.shape;
    if (shape.length > 0) {
      if (rank !== shape.length) throw this.fail(`${typedDims(type, dims)} (rank ${rank}, expected rank ${shape.length})`);
      for (let i = 0; i < rank; i++) {
        const want = shape[i];
        if (typeof want === 'number' && want !== dims[i]) throw this.fail(typedDims(type, dims));
      }
    }
    if (rank > 0 && dims[0] === 0) throw this.fail(`${typedDims(type, dims)} (an empty batch)`);
  }

  /**
   * Converts and checks the values of an array form into `target` from element `offset`.
   * Values past `offset` may be partly written when it throws; callers treat them as garbage.
   */
  writeRows(value: readonly unknown[] | NumericArray, target: TargetArray, offset: number): void {
    const first = (value as readonly unknown[])[0];
    if (!Array.isArray(first)) {
      const bad = this.#writeFlat(value, target, offset);
      if (bad >= 0) throw this.#badValue(value[bad], `index ${bad}`);
      return;
    }
    if (!Array.isArray(first[0])) {
      let at = offset;
      for (let r = 0; r < value.length; r++) {
        const row = (value as readonly (readonly unknown[])[])[r] as readonly unknown[];
        const bad = this.#writeFlat(row, target, at);
        if (bad >= 0) throw this.#badValue(row[bad], `row ${r}, column ${bad}`);
        at += row.length;
      }
      return;
    }
    this.#writeNested(value as readonly unknown[], target, offset, [], 0);
  }

  /** Writes a block of nested arrays of depth ≥ 3 (checked already); returns the offset after it. */
  #writeNested(array: readonly unknown[], target: TargetArray, offset: number, at: number[], atLength: number): number {
    let next = offset;
    for (let i = 0; i < array.length; i++) {
      const child = array[i] as readonly unknown[];
      at[atLength] = i;
      if (Array.isArray(child[0])) {
        next = this.#writeNested(child, target, next, at, atLength + 1);
        continue;
      }
      const bad = this.#writeFlat(child, target, next);
      if (bad >= 0) {
        at[atLength + 1] = bad;
        throw this.#badValue(child[bad], `index ${indexPath(at, atLength + 2)}`);
      }
      next += child.length;
    }
    return next;
  }

  /**
   * Converts and checks `values` into `target` from `offset`; returns the index of the first value
   * that does not fit (the caller names where it is), or -1.
   */
  #writeFlat(values: ArrayLike<unknown>, target: TargetArray, offset: number): number {
    const n = values.length;
    const kind = this.kind;
    if (kind === 'float') {
      const out = target as Float32Array;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        // One range test also refuses NaN and ±Infinity (every comparison with NaN is false).
        if (typeof v !== 'number' || !(v >= this.min && v <= this.max)) return i;
        out[offset + i] = v;
      }
      return -1;
    }
    if (kind === 'int') {
      const out = target as Int32Array;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < this.min || v > this.max) return i;
        out[offset + i] = v;
      }
      return -1;
    }
    if (kind === 'bigint') {
      const out = target as BigInt64Array;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v === 'bigint') {
          out[offset + i] = v;
        } else if (typeof v === 'number' && Number.isSafeInteger(v) && v >= this.min) {
          out[offset + i] = BigInt(v);
        } else {
          return i;
        }
      }
      return -1;
    }
    if (kind === 'bool') {
      const out = target as Uint8Array;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v === true || v === 1) out[offset + i] = 1;
        else if (v === false || v === 0) out[offset + i] = 0;
        else return i;
      }
      return -1;
    }
    if (kind === 'string') {
      const out = target as string[];
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'string') return i;
        out[offset + i] = v;
      }
      return -1;
    }
    throw this.fail(`a plain value; a ${this.type} input takes an onnxruntime Tensor`);
  }

  /** What {@link InputPlan.#writeFlat} accepts, for messages. */
  #expectedValues(): string {
    switch (this.kind) {
      case 'float':
        return this.type === 'float32' ? 'finite numbers in float32 range' : 'finite numbers';
      case 'int':
        return `integers in [${this.min}, ${this.max}]`;
      case 'bigint':
        return this.min === 0 ? 'non-negative safe integers or bigints' : 'safe integers or bigints';
      case 'bool':
        return 'booleans or 0/1';
      default:
        return 'strings';
    }
  }

  /**
   * Validates everything but the values of any form and returns its number of rows (dim 0); for
   * batching, which then copies the values into a shared buffer with {@link InputPlan.writeAny}.
   */
  rowsOfAny(value: TensorInput): number {
    const rows = this.rowsOf(value);
    if (rows >= 0) return rows;
    if (value instanceof Tensor) {
      if (value.type !== this.type) throw this.fail(`a ${value.type} Tensor`);
      if (value.location !== 'cpu') throw this.fail(`a Tensor on '${value.location}'; batching needs CPU data`);
      this.checkDims(value.dims, value.type);
      return value.dims[0] as number;
    }
    if (isTensorData(value)) {
      this.checkDims(value.dims, this.type);
      let size = 1;
      for (const d of value.dims) size *= d;
      if (value.data.length !== size) throw this.fail(`${value.data.length} values for dims [${value.dims.join(',')}] (${size} values)`);
      return value.dims[0] as number;
    }
    throw this.fail(describeValue(value));
  }

  /** Checks and copies the values of a form {@link InputPlan.rowsOfAny} accepted into `target` at `offset`. */
  writeAny(value: TensorInput, target: TargetArray, offset: number): void {
    if (Array.isArray(value)) {
      this.writeRows(value, target, offset);
      return;
    }
    const data = (value instanceof Tensor ? value.data : ArrayBuffer.isView(value) ? value : (value as TensorData).data) as ArrayLike<unknown>;
    if (this.ctor && data instanceof this.ctor) {
      // Data of the input's own type is copied as it is, like a Tensor passed through (no value scan).
      (target as Float32Array).set(data as Float32Array, offset);
    } else {
      const bad = this.#writeFlat(data, target, offset);
      if (bad >= 0) throw this.#badValue(data[bad], `index ${bad}`);
    }
  }

  #badValue(v: unknown, at: string): InputShapeError {
    return new InputShapeError(`${this.#where}expected ${this.label} with ${this.#expectedValues()}, got ${describeValue(v)} at ${at}`);
  }

  /**
   * The `InputShapeError` for the first NaN or ±Infinity in `data[start, end)` (its index counted
   * from `start`) when this input is floating point, else `undefined`. Values passed through
   * without a scan (a Tensor, `{ data, dims }` of the input's own type, a batch's copied rows) are
   * only looked at here, once a run gave a non-finite output: the caller's NaN then fails as the
   * caller's mistake instead of as the version's failure.
   */
  nonFinite(data: ArrayLike<unknown>, start = 0, end = data.length): InputShapeError | undefined {
    const at =
      this.kind === 'float'
        ? firstNonFinite(data as ArrayLike<number>, start, end)
        : this.type === 'float16' && ArrayBuffer.isView(data)
          ? firstNonFiniteHalf(data as ArrayLike<number>, start, end)
          : -1;
    if (at < 0) return undefined;
    const given = this.kind === 'float' ? describeValue(data[at]) : 'a non-finite float16';
    return new InputShapeError(`${this.#where}expected ${this.label} with finite values, got ${given} at index ${at - start}; a non-finite input gives a non-finite output, which is never served`);
  }

  /** Allocates a buffer of this input's element type. */
  allocate(length: number): TargetArray {
    if (!this.ctor) throw this.fail(`a plain value; a ${this.type} input takes an onnxruntime Tensor`);
    return new this.ctor(length);
  }

  /** Converts any accepted form of this input into a tensor, copying only when the type differs. */
  toTensor(value: TensorInput): Tensor {
    const flatRowDims = this.#flatRowDims;
    if (flatRowDims && Array.isArray(value) && value.length === this.rowSize && !Array.isArray(value[0])) {
      const target = this.allocate(this.rowSize);
      const bad = this.#writeFlat(value, target, 0);
      if (bad >= 0) throw this.#badValue(value[bad], `index ${bad}`);
      return new Tensor(this.type as 'float32', target as Float32Array, flatRowDims as number[]);
    }
    if (value instanceof Tensor) return this.fromTensor(value);
    const rows = this.rowsOf(value);
    if (rows >= 0) {
      const flat = value as readonly unknown[] | NumericArray;
      const dims = this.dimsOf(flat, rows);
      let size = 1;
      for (let i = 0; i < dims.length; i++) size *= dims[i] as number;
      const target = this.allocate(size);
      this.writeRows(flat, target, 0);
      return new Tensor(this.type as 'float32', target as Float32Array, dims as number[]);
    }
    if (isTensorData(value)) return this.#fromTensorData(value);
    throw this.fail(describeValue(value));
  }

  /**
   * `value` itself once its type and dims fit: a Tensor's values are the caller's, already in the
   * model's type, and a scan of them would cost more than the run of a small model (2 400 values:
   * ≈ 4.8 µs).
   */
  fromTensor(value: Tensor): Tensor {
    if (value.type !== this.type) throw this.fail(`a ${value.type} Tensor`);
    this.checkDims(value.dims, value.type);
    return value;
  }

  #fromTensorData(value: TensorData): Tensor {
    const { data, dims } = value;
    this.checkDims(dims, this.type);
    let size = 1;
    for (const d of dims) size *= d;
    if (data.length !== size) throw this.fail(`${data.length} values for dims [${dims.join(',')}] (${size} values)`);
    const ctor = this.ctor;
    if (ctor && data instanceof ctor) return new Tensor(this.type as 'float32', data as Float32Array, dims);
    const target = this.allocate(size);
    const bad = this.#writeFlat(data as ArrayLike<unknown>, target, 0);
    if (bad >= 0) throw this.#badValue(data[bad], `index ${bad}`);
    return new Tensor(this.type as 'float32', target as Float32Array, dims);
  }
}

/** Whether `tensor` holds the caller's floating-point values as given, unscanned (not copied from an array form). */
function passedThrough(plan: InputPlan, value: TensorInput, tensor: Tensor): boolean {
  if (!(plan.kind === 'float' || plan.type === 'float16')) return false;
  // A Tensor is passed on as it is; only a CPU one has values to look at (`data` throws on others).
  if (value === tensor) return tensor.location === 'cpu';
  return !Array.isArray(value) && isTensorData(value) && tensor.data === value.data;
}

/** How deep arrays nest along their first elements: 1 for `number[]`, 2 for `number[][]`, … */
function nestingOf(value: readonly unknown[]): number {
  let depth = 0;
  for (let level: unknown = value; Array.isArray(level); level = level[0]) depth++;
  return depth;
}

/** `[0][4]`: the first `length` indices of `at`, for messages. */
function indexPath(at: readonly number[], length: number): string {
  let path = '';
  for (let i = 0; i < length; i++) path += `[${at[i]}]`;
  return path;
}

/** `float32[1,4]`, for messages. */
function typedDims(type: string, dims: readonly number[]): string {
  return `${type}[${dims.join(',')}]`;
}

/** True for `{ data, dims }` objects (and not for a record of inputs). */
export function isTensorData(value: unknown): value is TensorData {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { data?: unknown; dims?: unknown };
  return Array.isArray(v.dims) && (Array.isArray(v.data) || ArrayBuffer.isView(v.data));
}

/**
 * Everything a predictor needs to validate and convert inputs for one model.
 * @internal
 */
export class InputPlans {
  readonly plans: readonly InputPlan[];
  readonly byName: ReadonlyMap<string, InputPlan>;
  /** The one input of a single-input model, which also takes non-record forms. */
  readonly single: InputPlan | undefined;
  /** The symbolic dim 0 every input shares (`'N'`), or `undefined` when they do not share one. */
  readonly batchSymbol: string | undefined;
  readonly #where: string;
  /**
   * Whether the last {@link InputPlans.toFeeds} call passed floating-point values through without
   * scanning them (a Tensor, or `{ data, dims }` of the input's own type). Set synchronously, so
   * read it right after the call: a predictor keeps the feeds for {@link InputPlans.nonFinite}
   * only then.
   */
  unscanned = false;

  constructor(signature: ModelSignature, where: string) {
    this.#where = where;
    this.plans = signature.inputs.map((spec) => new InputPlan(spec, where));
    this.byName = new Map(this.plans.map((p) => [p.name, p]));
    this.single = this.plans.length === 1 ? this.plans[0] : undefined;
    const first = this.plans[0]?.shape[0];
    this.batchSymbol =
      typeof first === 'string' && this.plans.every((p) => p.shape[0] === first) ? first : undefined;
  }

  /** `'a', 'b'`, for messages. */
  names(): string {
    return this.plans.map((p) => `'${p.name}'`).join(', ');
  }

  /**
   * Returns the value given for each input, in signature order, or throws `InputShapeError`
   * for a missing or unknown input name or a non-record input to a multi-input model.
   */
  split(input: PredictInput): TensorInput[] {
    const single = this.single;
    if (single && isSingleForm(input, single.name)) return [input as TensorInput];
    if (typeof input !== 'object' || input === null || Array.isArray(input) || ArrayBuffer.isView(input) || input instanceof Tensor || isTensorData(input)) {
      if (single) throw single.fail(describeValue(input));
      throw new InputShapeError(`${this.#where}expected a record of inputs ${this.names()}, got ${describeValue(input)}`);
    }
    const record = input as Readonly<Record<string, TensorInput>>;
    for (const key in record) {
      if (!this.byName.has(key)) {
        throw new InputShapeError(`${this.#where}expected inputs ${this.names()}, got unknown input '${key}'`);
      }
    }
    const values: TensorInput[] = [];
    for (const plan of this.plans) {
      const v = record[plan.name];
      if (v === undefined) throw new InputShapeError(`${this.#where}expected inputs ${this.names()}, got no value for '${plan.name}'`);
      values.push(v);
    }
    return values;
  }

  /** Validates and converts a whole input into onnxruntime feeds. */
  toFeeds(input: PredictInput): Record<string, Tensor> {
    const single = this.single;
    if (single) {
      // A Tensor first, with one `instanceof` (a generic call on an imported class, so not three).
      if (!Array.isArray(input) && input instanceof Tensor) return this.#singleFeeds(single, input, single.fromTensor(input));
      if (isSingleForm(input, single.name)) return this.#singleFeeds(single, input as TensorInput, single.toTensor(input as TensorInput));
    }
    const values = this.split(input);
    const feeds: Record<string, Tensor> = {};
    let rows = -1;
    let unscanned = false;
    for (let i = 0; i < this.plans.length; i++) {
      const plan = this.plans[i] as InputPlan;
      const tensor = plan.toTensor(values[i] as TensorInput);
      feeds[plan.name] = tensor;
      unscanned ||= passedThrough(plan, values[i] as TensorInput, tensor);
      if (this.batchSymbol === undefined) continue;
      rows = this.sameRows(plan, tensor.dims[0] as number, rows);
    }
    this.unscanned = unscanned;
    return feeds;
  }

  #singleFeeds(single: InputPlan, input: TensorInput, tensor: Tensor): Record<string, Tensor> {
    // Assigned rather than `{ [name]: … }`: V8 builds computed-key literals about 10× slower.
    const feeds: Record<string, Tensor> = {};
    feeds[single.name] = tensor;
    this.unscanned = passedThrough(single, input, tensor);
    return feeds;
  }

  /** The `InputShapeError` for the first NaN or ±Infinity in the floating-point feeds, or `undefined`: one pass over them. */
  nonFinite(feeds: Readonly<Record<string, Tensor>>): InputShapeError | undefined {
    for (const plan of this.plans) {
      const tensor = feeds[plan.name];
      if (tensor === undefined || tensor.location !== 'cpu') continue;
      const error = plan.nonFinite(tensor.data as ArrayLike<unknown>);
      if (error) return error;
    }
    return undefined;
  }

  /** Returns `r`, or throws when an earlier input had `rows` ≠ `r` rows (inputs share dim 0). */
  sameRows(plan: InputPlan, r: number, rows: number): number {
    if (rows >= 0 && r !== rows) {
      throw plan.fail(`${r} rows while ${(this.plans[0] as InputPlan).label} has ${rows} (inputs share dim '${this.batchSymbol}')`);
    }
    return r;
  }
}

/** Whether `input` is a value for the single input itself rather than a record keyed by input name. @internal */
export function isSingleForm(input: PredictInput, name: string): boolean {
  if (typeof input !== 'object' || input === null) return true;
  if (Array.isArray(input) || ArrayBuffer.isView(input) || input instanceof Tensor) return true;
  return isTensorData(input) && !(name in input);
}
