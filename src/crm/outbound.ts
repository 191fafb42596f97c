import { z } from "zod";
import { signStandardWebhook } from "./standard";
import { unseal } from "../auth/sealing";
import { checkOutboundUrl } from "../net/url-safety";
import { fetchErrorReason, parseRetryAfter, retryDelaySeconds, type RetryPolicy } from "../net/retry";
import { discardBody, statusClass } from "../net/responses";
import {
  deliveredEvents,
  endpointById,
  OUTBOUND_EVENT_TYPES,
  recordEndpointDeliveries,
  type EndpointDelivery,
  type OutboundEventType,
} from "../storage/endpoints";
import { recordEvents, type TenantEvent } from "../storage/events";
import { logLine } from "../log";
import { utf8 } from "../lib/encoding";

/**
 * Outbound events to a tenant's CRM: one queue message per (endpoint, event), delivered as a
 * Standard Webhooks request (`webhook-id` = event id, `webhook-timestamp`, `webhook-signature`),
 * body `{type, timestamp, data}`. 2xx delivers; 408/429/5xx/network errors retry with backoff
 * (Retry-After honoured) until the queue's max_retries sends the job to the dead-letter queue; other
 * 4xx fail for good. Every attempt is logged for the tenant.
 */
export interface OutboundJob {
  eventId: string;
  endpointId: string;
  tenantId: string;
  type: OutboundEventType;
  data: Record<string, unknown>;
  createdAt: number;
}

const Job = z.object({
  eventId: z.string().min(1).max(300),
  endpointId: z.string(),
  tenantId: z.string(),
  type: z.enum(OUTBOUND_EVENT_TYPES),
  data: z.record(z.string(), z.unknown()),
  createdAt: z.number(),
});

/** Outbound retries: exponential backoff from 5 s, doubling, capped at one hour; Retry-After wins when longer. */
export const OUTBOUND_RETRY: RetryPolicy = { baseSeconds: 5, maxSeconds: 3600 };
const TIMEOUT_MS = 10_000;

export function parseOutboundJob(body: unknown): OutboundJob | undefined {
  const parsed = Job.safeParse(body);
  return parsed.success ? parsed.data : undefined;
}

/** Deliver one batch of the events queue, acking or retrying each message on its own. */
export async function consumeOutboundBatch(batch: MessageBatch<unknown>, env: Env, fetcher: typeof fetch, now: () => number): Promise<void> {
  const records: EndpointDelivery[] = [];
  for (const message of batch.messages) {
    const job = parseOutboundJob(message.body);
    if (!job) {
      message.ack();
      continue;
    }
    const record = (status: EndpointDelivery["status"], responseStatus: number | null, detail: string | null) =>
      records.push({ eventId: job.eventId, endpointId: job.endpointId, tenantId: job.tenantId, type: job.type, status, attempts: message.attempts, responseStatus, detail, updatedAt: now() });
    const endpoint = await endpointById(env.DB, job.endpointId);
    if (!endpoint || endpoint.tenantId !== job.tenantId) {
      message.ack(); // the endpoint was deleted
      continue;
    }
    if ((await deliveredEvents(env.DB, endpoint.id, [job.eventId])).size > 0) {
      message.ack();
      continue;
    }
    const allowed = checkOutboundUrl(endpoint.url, env.ENVIRONMENT);
    if (!allowed.ok) {
      record("failed", null, allowed.reason);
      message.ack();
      continue;
    }
    const secret = await unseal(env.TOKEN_SIGNING_KEY, endpoint.secretCiphertext);
    if (!secret) {
      record("failed", null, "the endpoint secret cannot be read; rotate it");
      message.ack();
      continue;
    }
    const body = utf8(JSON.stringify({ type: job.type, timestamp: new Date(job.createdAt).toISOString(), data: job.data }));
    const timestamp = String(Math.floor(now() / 1000));
    try {
      const res = await fetcher(endpoint.url, {
        method: "POST",
        redirect: "manual",
        signal: AbortSignal.timeout(TIMEOUT_MS),
        headers: {
          "content-type": "application/json",
          "user-agent": "Switchboard-Webhooks/1",
          "webhook-id": job.eventId,
          "webhook-timestamp": timestamp,
          "webhook-signature": await signStandardWebhook(secret, job.eventId, timestamp, body),
        },
        body,
      });
      await discardBody(res);
      if (res.status >= 200 && res.status < 300) {
        record("delivered", res.status, null);
        message.ack();
      } else if (res.status === 408 || res.status === 429 || res.status >= 500) {
        record("retrying", res.status, `endpoint answered ${statusClass(res.status)}`);
        message.retry({ delaySeconds: retryDelaySeconds(OUTBOUND_RETRY, message.attempts, parseRetryAfter(res.headers, now())) });
      } else {
        record("failed", res.status, `endpoint answered ${statusClass(res.status)}`);
        message.ack();
      }
    } catch (err) {
      record("retrying", null, fetchErrorReason(err));
      message.retry({ delaySeconds: retryDelaySeconds(OUTBOUND_RETRY, message.attempts) });
    }
  }
  await recordEndpointDeliveries(env.DB, records);
  await reportAttempts(env, records, now());
}

/** Every attempt in the reporting log and in its tenant's events (ids, outcome, status class: never the payload). */
async function reportAttempts(env: Env, records: EndpointDelivery[], now: number): Promise<void> {
  const events: TenantEvent[] = records.map((r) => {
    const data = { eventId: r.eventId, endpointId: r.endpointId, eventType: r.type, outcome: r.status, attempts: r.attempts, responseStatus: r.responseStatus, detail: r.detail };
    logLine("outbound.attempt", { tenantId: r.tenantId, ...data });
    return { tenantId: r.tenantId, ts: now, type: "outbound.attempt", data };
  });
  await recordEvents(env.DB, events);
}

/** Jobs that exhausted their retries: logged as dead. */
export async function consumeOutboundDeadLetters(batch: MessageBatch<unknown>, env: Env, now: () => number): Promise<void> {
  const records: EndpointDelivery[] = [];
  for (const message of batch.messages) {
    const job = parseOutboundJob(message.body);
    if (job) {
      records.push({ eventId: job.eventId, endpointId: job.endpointId, tenantId: job.tenantId, type: job.type, status: "dead", attempts: message.attempts, responseStatus: null, detail: "retries exhausted", updatedAt: now() });
    }
    message.ack();
  }
  await recordEndpointDeliveries(env.DB, records);
}
