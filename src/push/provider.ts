/** What every push provider shares: the platform guard, the never-throw contract, retry outcomes. */

import { parseRetryAfter } from "../net/retry";
import type { PushNotification, PushOutcome, PushPlatform, PushProvider, PushTarget } from "./types";

/** The target of one platform. */
export type TargetOf<P extends PushPlatform> = Extract<PushTarget, { platform: P }>;

/**
 * The provider of `platform` around its send function: a target of another platform fails, and so does
 * anything `send` throws, so a provider never throws.
 */
export function definePushProvider<P extends PushPlatform>(
  platform: P,
  send: (target: TargetOf<P>, notification: PushNotification) => Promise<PushOutcome>,
): PushProvider {
  return {
    platform,
    async send(target: PushTarget, notification: PushNotification): Promise<PushOutcome> {
      if (!isTargetOf(target, platform)) return { kind: "failed", reason: `${platform} provider got a ${target.platform} target` };
      try {
        return await send(target, notification);
      } catch (error) {
        return { kind: "failed", reason: `${platform}: ${errorMessage(error)}` };
      }
    },
  };
}

/** Is `target` one of `platform`'s? (A comparison alone does not narrow a union by a generic platform.) */
function isTargetOf<P extends PushPlatform>(target: PushTarget, platform: P): target is TargetOf<P> {
  return target.platform === platform;
}

/** A `retry` outcome carrying the server's `Retry-After`, when it sent one. */
export function retryOutcome(
  reason: string,
  status: number,
  headers: Headers,
  nowMs: number,
): { kind: "retry"; reason: string; status: number; retryAfterSeconds?: number } {
  const retryAfterSeconds = parseRetryAfter(headers, nowMs);
  return retryAfterSeconds === undefined
    ? { kind: "retry", reason, status }
    : { kind: "retry", reason, status, retryAfterSeconds };
}

/** The message of whatever was thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
