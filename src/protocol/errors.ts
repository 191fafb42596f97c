/** Error codes of frames and of the HTTP error envelope. */
export const ERROR_CODES = [
  "invalid_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "too_large",
  "rate_limited",
  "quota_exceeded",
  "internal_error",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * The error envelope of API.md ("Conventions"), the one shape of every refusal: from the Worker's
 * routes, from the Durable Objects' upgrade answers and from the CRM ingress replies.
 */
export function errorBody(code: ErrorCode, message: string, requestId?: string) {
  return { error: requestId ? { code, message, requestId } : { code, message } };
}
