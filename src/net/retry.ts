/**
 * When to try an outbound request again: the backoff policy, the far end's `Retry-After`, and which
 * fetch failures are transient. Shared by push delivery and the outbound CRM events.
 */

/** Exponential backoff: `baseSeconds` after the first attempt, doubling, capped at `maxSeconds`. */
export interface RetryPolicy {
  baseSeconds: number;
  maxSeconds: number;
}

/** The longest delay a queue message can be retried with (Cloudflare Queues: 12 hours). */
export const MAX_RETRY_DELAY_SECONDS = 12 * 3600;

/** Seconds before attempt `attempt + 1`: the policy's backoff, or the server's Retry-After when longer. */
export function retryDelaySeconds(policy: RetryPolicy, attempt: number, retryAfterSeconds?: number): number {
  const backoff = Math.min(policy.baseSeconds * 2 ** Math.max(0, attempt - 1), policy.maxSeconds);
  return Math.min(Math.max(backoff, Math.ceil(retryAfterSeconds ?? 0)), MAX_RETRY_DELAY_SECONDS);
}

/**
 * Seconds to wait from a `Retry-After` header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date),
 * or undefined when absent or unparseable.
 */
export function parseRetryAfter(headers: Headers, nowMs: number): number | undefined {
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - nowMs) / 1000));
}

/** Why a fetch threw, as a retry reason: timeouts and network failures are both transient. */
export function fetchErrorReason(error: unknown): string {
  const name = error instanceof Error || error instanceof DOMException ? error.name : "";
  if (name === "TimeoutError" || name === "AbortError") return "timeout";
  // The runtime's message may name internal addresses or echo what the far end sent: delivery logs are
  // shown to tenants, so they keep only the kind of failure.
  return "network error";
}
