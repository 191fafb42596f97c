import { createApp } from "../src/http/app";
import { EVENTS_DLQ_NAME, EVENTS_QUEUE_NAME, PUSH_DLQ_NAME, PUSH_QUEUE_NAME } from "../src/queues";
import { consumeDeadLetters, consumePushBatch } from "../src/push/dispatch";
import { createProviders } from "../src/push/providers";
import { runRetention } from "../src/jobs/retention";
import { consumeOutboundBatch, consumeOutboundDeadLetters } from "../src/crm/outbound";
import { forgetDeliveries } from "../src/storage/integrations";
import { pruneEvents, recordEvents } from "../src/storage/events";
import { logLine } from "../src/log";

export { ConversationRoom } from "./conversation-room";
export { TenantPresence } from "./tenant-presence";

const app = createApp();


export default {
  fetch: app.fetch,
  async queue(batch, env, _ctx) {
    const deps = { fetch: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init), now: () => Date.now() };
    if (batch.queue === PUSH_DLQ_NAME) return consumeDeadLetters(batch, env, deps);
    if (batch.queue === PUSH_QUEUE_NAME) return consumePushBatch(batch, env, createProviders(env, deps), deps);
    if (batch.queue === EVENTS_QUEUE_NAME) return consumeOutboundBatch(batch, env, deps.fetch, deps.now);
    if (batch.queue === EVENTS_DLQ_NAME) return consumeOutboundDeadLetters(batch, env, deps.now);
    console.error(`no consumer for queue ${batch.queue}; retrying its messages`);
    batch.retryAll();
  },
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(
      runRetention(env, controller.scheduledTime).then(async (reports) => {
        for (const r of reports) logLine("retention.run", { ...r });
        await recordEvents(
          env.DB,
          reports.map(({ tenantId, ...data }) => ({ tenantId, ts: controller.scheduledTime, type: "retention.run" as const, data })),
        );
      }),
    );
    // Reporting events are kept for each tenant's `event_retention_days`.
    ctx.waitUntil(pruneEvents(env.DB, controller.scheduledTime));
    // Webhook delivery ids are remembered for 48 h: longer than any sender's retry window (24 h).
    ctx.waitUntil(forgetDeliveries(env.DB, controller.scheduledTime - 48 * 3600_000));
  },
} satisfies ExportedHandler<Env>;
