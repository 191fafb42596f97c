import type { ErrorCode } from "../protocol/frames";

/** An expected failure, carried as data across RPC and turned into the error envelope at the edge. */
export interface Failure {
  ok: false;
  code: ErrorCode;
  message: string;
  retryAfterMs?: number;
}
export type Result<T> = { ok: true; value: T } | Failure;

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (code: ErrorCode, message: string, retryAfterMs?: number): Failure =>
  retryAfterMs === undefined ? { ok: false, code, message } : { ok: false, code, message, retryAfterMs };

/** Who is acting, as established by the Worker from a verified credential. */
export interface Actor {
  tenantId: string;
  userId: string;
  /** The device (or "http") the action comes from, for per-device rate limits. */
  deviceId?: string | undefined;
  /**
   * Set only for the tenant backend (its api key): it may post in any conversation of its tenant,
   * joining it first, and manage the members of any group (src/domain/membership.ts).
   */
  tenantAdmin?: boolean | undefined;
}
