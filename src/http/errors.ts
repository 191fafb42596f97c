import type { ErrorCode } from "../protocol/frames";
import type { Failure } from "../domain/result";

/** HTTP status of each error code of the envelope. */
export const STATUS_OF: Record<ErrorCode, 400 | 401 | 403 | 404 | 409 | 413 | 429 | 500> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  quota_exceeded: 403,
  internal_error: 500,
};

export { errorBody } from "../protocol/errors";

/** An expected failure raised inside a handler; the app's error handler renders it. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }

  static from(failure: Failure): ApiError {
    const retry = failure.retryAfterMs === undefined ? undefined : Math.max(1, Math.ceil(failure.retryAfterMs / 1000));
    return new ApiError(failure.code, failure.message, retry);
  }
}

/** Unwrap a domain result or raise its failure. */
export function unwrap<T>(result: { ok: true; value: T } | Failure): T {
  if (!result.ok) throw ApiError.from(result);
  return result.value;
}
