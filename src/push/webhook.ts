/**
 * Platform `webhook`: POST the notification as JSON to the device's endpoint (an in-house push gateway).
 * The endpoint is user-supplied, so it is checked (checkOutboundUrl) both at registration and before each send.
 */

import type { PushDeps, PushNotification, PushOutcome, PushProvider } from "./types";
import { definePushProvider, retryOutcome } from "./provider";
import { fetchErrorReason } from "../net/retry";
import { discardBody } from "../net/responses";
import { checkOutboundUrl } from "../net/url-safety";

/** A gateway that has not answered in 10 s is treated as down: the queue retries later. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** The JSON body of a webhook push, exactly the API.md field set. */
export function webhookBody(n: PushNotification): string {
  return JSON.stringify({
    tenantId: n.tenantId,
    userId: n.userId,
    deviceId: n.deviceId,
    conversationId: n.conversationId,
    seq: n.seq,
    sender: n.sender,
    preview: n.preview,
    badge: n.badge,
  });
}

export interface WebhookOptions {
  /** `ENVIRONMENT`: decides which endpoints are acceptable (see checkOutboundUrl). */
  environment: string;
  timeoutMs?: number;
}

/** The webhook provider: 2xx delivered; 404/410 gone; 408/429/5xx, timeouts and network errors retry; else failed. */
export function createWebhookProvider(deps: PushDeps, options: WebhookOptions): PushProvider {
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  return definePushProvider("webhook", async (target, notification) => {
    // Re-checked at send time: the environment may have changed since registration.
    const check = checkOutboundUrl(target.endpoint, options.environment);
    if (!check.ok) return { kind: "failed", reason: `endpoint refused: ${check.reason}` };
    let response: Response;
    try {
      response = await deps.fetch(target.endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: webhookBody(notification),
        // A redirect could point a vetted public URL at an internal address.
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      return { kind: "retry", reason: fetchErrorReason(error) };
    }
    await discardBody(response);
    return mapWebhookStatus(response, deps.now());
  });
}

function mapWebhookStatus(response: Response, nowMs: number): PushOutcome {
  const status = response.status;
  if (status >= 200 && status < 300) return { kind: "delivered", status };
  if (status === 404 || status === 410) return { kind: "gone", reason: `endpoint answered ${status}`, status };
  if (status === 408 || status === 429 || status >= 500) {
    return retryOutcome(`endpoint answered ${status}`, status, response.headers, nowMs);
  }
  if (status >= 300 && status < 400) return { kind: "failed", reason: `endpoint redirected (${status}); redirects are not followed`, status };
  return { kind: "failed", reason: `endpoint answered ${status}`, status };
}
