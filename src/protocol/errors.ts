import type { ErrorCode } from "./frames";

/**
 * The error envelope of API.md ("Conventions"), the one shape of every refusal: from the Worker's
 * routes, from the Durable Objects' upgrade answers and from the CRM ingress replies.
 */
export function errorBody(code: ErrorCode, message: string, requestId?: string) {
  return { error: requestId ? { code, message, requestId } : { code, message } };
}
