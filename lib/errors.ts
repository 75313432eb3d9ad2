/**
 * Errors thrown by electra-native. Every failure of the native core arrives as
 * an Error whose `code` is one of the status codes of native/core/status.h;
 * loading problems use ERR_NATIVE_LOAD; a diverged run (non-finite loss,
 * gradient, weights or moments) is ERR_DIVERGED.
 */
import { types } from 'node:util';

/** The codes of native/core/status.h (status_code_name), plus JS-side codes. */
export const ELECTRA_ERROR_CODES = [
  'ERR_INVALID_ARGUMENT',
  'ERR_OUT_OF_MEMORY',
  'ERR_NO_DEVICE',
  'ERR_DEVICE',
  'ERR_IO',
  'ERR_CORRUPT_FILE',
  'ERR_BUSY',
  'ERR_INTERNAL',
  // Training produced a non-finite loss or gradient norm (native), or weights/moments unfit to save (JS).
  'ERR_DIVERGED',
  'ERR_NATIVE_LOAD',
] as const;

export type ElectraErrorCode = (typeof ELECTRA_ERROR_CODES)[number];

export function isElectraErrorCode(code: unknown): code is ElectraErrorCode {
  return typeof code === 'string' && (ELECTRA_ERROR_CODES as readonly string[]).includes(code);
}

export class ElectraError extends Error {
  readonly code: ElectraErrorCode;

  constructor(code: ElectraErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ElectraError';
    this.code = code;
  }
}

/**
 * Turns anything thrown by the addon into an ElectraError (keeping its code
 * and message; the original is the `cause`). Unknown codes become
 * ERR_INTERNAL. An ElectraError is returned as is.
 */
export function toElectraError(err: unknown): ElectraError {
  if (err instanceof ElectraError) return err;
  // isNativeError: errors made by the addon may come from another realm (vm, jest).
  if (err instanceof Error || types.isNativeError(err)) {
    const code = (err as Error & { code?: unknown }).code;
    return new ElectraError(isElectraErrorCode(code) ? code : 'ERR_INTERNAL', err.message, {
      cause: err,
    });
  }
  return new ElectraError('ERR_INTERNAL', String(err), { cause: err });
}

/** Runs `fn`, rethrowing any failure as an ElectraError. */
export function wrapNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toElectraError(err);
  }
}
