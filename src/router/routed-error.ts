import { AbortedError, InputShapeError } from '../errors.js';

/** Where a failed `ModelRouter.predict` was sent: set on the error the router rethrows. */
export interface RoutedErrorDetails {
  /** Model name. */
  model: string;
  /** Version the request was routed to. */
  version: number;
  /** Variant, slot or arm of the policy (`'canary'`, `'green'` …), or `'explicit'` for a caller-chosen version. */
  variant: string;
}

/** An error rethrown by `ModelRouter.predict`, carrying where the request went. Its class is unchanged. */
export type RoutedError = Error & RoutedErrorDetails;

/**
 * Whether `error` came out of `ModelRouter.predict` with its routing details, so a host can log
 * or answer with the version and variant without parsing messages.
 *
 * @example
 * ```ts
 * try { await router.predict(input) } catch (err) {
 *   if (isRoutedError(err)) log.error({ version: err.version, variant: err.variant }, err.message);
 * }
 * ```
 */
export function isRoutedError(error: unknown): error is RoutedError {
  return (
    error instanceof Error &&
    typeof (error as Partial<RoutedError>).version === 'number' &&
    typeof (error as Partial<RoutedError>).variant === 'string' &&
    typeof (error as Partial<RoutedError>).model === 'string'
  );
}

/**
 * Adds the routing details to an error and returns it. The error object itself is rethrown
 * (not wrapped) so hosts keep matching on its class (`instanceof CapacityError` → 503 …).
 * @internal
 */
export function withRouting(error: unknown, model: string, version: number, variant: string): unknown {
  if (error instanceof Error && Object.isExtensible(error)) {
    Object.assign(error, { model, version, variant });
  }
  return error;
}

/**
 * Failures that are the caller's doing, not the version's: a malformed input, or a call the
 * caller cancelled. They are rethrown but never counted against the version.
 * @internal
 */
export function isCallerError(error: unknown): boolean {
  return error instanceof InputShapeError || error instanceof AbortedError;
}
