/**
 * Every failure a caller can act on is one of these classes. Match on the class
 * (`err instanceof NotFoundError`) or on the stable {@link ModelRolloutError.code}
 * (safe across package copies and serialisation boundaries).
 *
 * @module
 */

/** Stable machine-readable codes, one per error class. */
export type ModelRolloutErrorCode =
  | 'VALIDATION'
  | 'NOT_FOUND'
  | 'INTEGRITY'
  | 'PRECONDITION_FAILED'
  | 'MODEL_LOAD'
  | 'STORAGE'
  | 'INPUT_SHAPE'
  | 'INFERENCE'
  | 'INVALID_STATE'
  | 'CAPACITY'
  | 'TIMEOUT'
  | 'ABORTED';

/** Base class of every error this library throws on purpose. */
export class ModelRolloutError extends Error {
  /** Stable identifier of the failure kind; never changes between releases. */
  readonly code: ModelRolloutErrorCode;

  constructor(code: ModelRolloutErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An argument or option is not what was expected; nothing was changed. */
export class ValidationError extends ModelRolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VALIDATION', message, options);
  }
}

/** A model, version, alias, experiment or key does not exist. */
export class NotFoundError extends ModelRolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_FOUND', message, options);
  }
}

/** Stored bytes do not match their recorded checksum: never served. */
export class IntegrityError extends ModelRolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INTEGRITY', message, options);
  }
}

/** A conditional write lost its race (`ifNoneMatch: '*'` found the key, or `ifMatch` a newer etag). */
export class PreconditionFailedError extends ModelRolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PRECONDITION_FAILED', message, options);
  }
}

/** An artifact could not be opened as a model (not ONNX, corrupt, unsupported operator…). */
export class ModelLoadError extends ModelRolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MODEL_LOAD', message, options);
  }
}

/** The storage backend failed (I/O error, lost connection…); the operation did not complete. */
export class StorageError extends ModelRolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORAGE', message, options);
  }
}

/** A prediction input does not match the model's signature; the caller's fault, not the model's. */
export class InputShapeError extends ModelRolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INPUT_SHAPE', message, options);
  }
}

/** The runtime failed while running a loaded model on a valid input (the model's fault, not the caller's). */
export class InferenceError extends ModelRolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INFERENCE', message, options);
  }
}

/** The operation is not allowed in the current state (promote an idle canary, switch to an empty slot…). */
export class InvalidStateError extends ModelRolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_STATE', message, options);
  }
}

/** A bounded queue is full; the request was rejected at once rather than queued without limit. */
export class CapacityError extends ModelRolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CAPACITY', message, options);
  }
}

/** A request waited longer than its configured timeout. */
export class TimeoutError extends ModelRolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TIMEOUT', message, options);
  }
}

/** A request was cancelled through its `AbortSignal`. */
export class AbortedError extends ModelRolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ABORTED', message, options);
  }
}

/**
 * A logged decision has propensity 0: the logging policy could never have chosen that variant, so
 * no importance weight exists for it and off-policy estimates cannot use the log. A
 * `ValidationError`, so `err.code === 'VALIDATION'`.
 */
export class ZeroPropensityError extends ValidationError {
  /** Index of the first record with propensity 0. */
  readonly index: number;

  constructor(message: string, index: number, options?: { cause?: unknown }) {
    super(message, options);
    this.index = index;
  }
}

/** Describes a value for error messages: type and a short rendering, e.g. `number 3`, `string "a/b"`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name} of length ${(value as unknown as ArrayLike<unknown>).length ?? value.byteLength}`;
  switch (typeof value) {
    case 'string':
      return `string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'function':
      return 'function';
    default:
      return `object ${Object.prototype.toString.call(value).slice(8, -1)}`;
  }
}
