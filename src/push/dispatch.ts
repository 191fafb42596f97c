import type { PushDeps, PushOutcome, PushProvider, PushPlatform } from "./types";
import { parsePushJob, type PushJob } from "./job";
import { retryDelaySeconds, type RetryPolicy } from "../net/retry";
import { statusClass } from "../net/responses";
import { finishedJobs, recordDeliveries, type DeliveryRecord } from "../storage/push-deliveries";
import { presenceOf } from "../objects";
import { recordEvents, type TenantEvent } from "../storage/events";
import { addUsage, type DailyMetric } from "../storage/usage";
import { tenantDb } from "../storage/shards";
import { logLine } from "../log";

/** Push retries: exponential backoff from 10 s, doubling, capped at one hour; Retry-After wins when longer. */
export const PUSH_RETRY: RetryPolicy = { baseSeconds: 10, maxSeconds: 3600 };

/** Deliver one job through its platform's provider. Never throws: a provider failure is an outcome. */
export async function processJob(providers: Record<PushPlatform, PushProvider>, job: PushJob): Promise<PushOutcome> {
  try {
    return await providers[job.target.platform].send(job.target, job.notification);
  } catch (err) {
    console.error(`push provider ${job.target.platform} threw`, err);
    return { kind: "retry", reason: "provider error" };
  }
}

/**
 * What the delivery log keeps of an outcome: the status class when the far end answered, never its
 * words; otherwise the reason, which is our own wording (a refused endpoint, a timeout, a network error).
 */
export function deliveryDetail(outcome: PushOutcome): string {
  if (outcome.kind === "delivered") return `answered ${statusClass(outcome.status)}`;
  return outcome.status === undefined ? outcome.reason : `answered ${statusClass(outcome.status)}`;
}

/**
 * The push queue consumer. Each message is acked or retried on its own: delivered, gone (the device
 * is deleted) and permanent failures are acked; transient ones retry with backoff until the queue's
 * max_retries moves them to the dead-letter queue. A job already finished (a redelivery) is acked
 * without sending again.
 */
export async function consumePushBatch(
  batch: MessageBatch<unknown>,
  env: Env,
  providers: Record<PushPlatform, PushProvider>,
  deps: Pick<PushDeps, "now">,
): Promise<void> {
  const jobs = batch.messages.map((message) => ({ message, job: parsePushJob(message.body) }));
  for (const { message, job } of jobs) {
    if (!job) {
      console.error("dropping a push message that is not a push job", message.id);
      message.ack();
    }
  }
  const valid = jobs.filter((j): j is { message: Message<unknown>; job: PushJob } => j.job !== undefined);
  const done = await finishedJobs(env.DB, valid.map((j) => j.job.jobId));
  const records: DeliveryRecord[] = [];
  const platforms = new Map<string, PushPlatform>();
  await Promise.all(
    valid.map(async ({ message, job }) => {
      if (done.has(job.jobId)) return message.ack();
      const outcome = await processJob(providers, job);
      const n = job.notification;
      platforms.set(job.jobId, job.target.platform);
      const record = (status: DeliveryRecord["status"], detail: string | null) =>
        records.push({ jobId: job.jobId, tenantId: n.tenantId, userId: n.userId, deviceId: n.deviceId, status, attempts: message.attempts, detail, updatedAt: deps.now() });
      const detail = deliveryDetail(outcome);
      switch (outcome.kind) {
        case "delivered":
          record("delivered", detail);
          return message.ack();
        case "gone": {
          record("gone", detail);
          const { stub, address } = presenceOf(env, n.tenantId, n.userId);
          await stub.deleteDevice(address, n.userId, n.deviceId);
          return message.ack();
        }
        case "failed":
          record("failed", detail);
          return message.ack();
        case "retry":
          record("retrying", detail);
          return message.retry({ delaySeconds: retryDelaySeconds(PUSH_RETRY, message.attempts, outcome.retryAfterSeconds) });
      }
    }),
  );
  await recordDeliveries(env.DB, records);
  await reportAttempts(env, records, platforms, deps.now());
}

/**
 * Every attempt in the reporting log and in its tenant's events; delivered pushes in the day's usage,
 * by provider. Only ids, the outcome and our coarse detail: never the preview or the far end's words.
 */
async function reportAttempts(env: Env, records: DeliveryRecord[], platforms: Map<string, PushPlatform>, now: number): Promise<void> {
  if (records.length === 0) return;
  const delivered = new Map<string, Partial<Record<DailyMetric, number>>>();
  const events: TenantEvent[] = records.map((r) => {
    const provider = platforms.get(r.jobId) ?? "unknown";
    const data = { jobId: r.jobId, userId: r.userId, deviceId: r.deviceId, provider, outcome: r.status, attempts: r.attempts, detail: r.detail };
    logLine("push.attempt", { tenantId: r.tenantId, ...data });
    if (r.status === "delivered" && provider !== "unknown") {
      const counts = delivered.get(r.tenantId) ?? {};
      const metric = `push.${provider}` as DailyMetric;
      counts[metric] = (counts[metric] ?? 0) + 1;
      delivered.set(r.tenantId, counts);
    }
    return { tenantId: r.tenantId, ts: now, type: "push.attempt", data };
  });
  await Promise.all([
    recordEvents(env.DB, events),
    ...[...delivered].map(([tenantId, counts]) => addUsage(tenantDb(env, tenantId), tenantId, now, counts)),
  ]);
}

/** Jobs whose retries ran out: recorded as dead so the device's owner can see why pushes stopped. */
export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env, deps: Pick<PushDeps, "now">): Promise<void> {
  const records: DeliveryRecord[] = [];
  for (const message of batch.messages) {
    const job = parsePushJob(message.body);
    if (job) {
      const n = job.notification;
      records.push({ jobId: job.jobId, tenantId: n.tenantId, userId: n.userId, deviceId: n.deviceId, status: "dead", attempts: message.attempts, detail: "retries exhausted", updatedAt: deps.now() });
    }
    message.ack();
  }
  await recordDeliveries(env.DB, records);
}
