import { createApp } from "../src/http/app";
import { consumeDeadLetters, consumePushBatch } from "../src/push/dispatch";
import { createProviders } from "../src/push/providers";
import { runRetention } from "../src/jobs/retention";

export { ConversationRoom } from "./conversation-room";
export { TenantPresence } from "./tenant-presence";

const app = createApp();

/** Queue names, as configured in wrangler.toml. */
export const PUSH_QUEUE_NAME = "switchboard-push";
export const PUSH_DLQ_NAME = "switchboard-push-dlq";

export default {
  fetch: app.fetch,
  async queue(batch, env, _ctx) {
    const deps = { fetch: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init), now: () => Date.now() };
    if (batch.queue === PUSH_DLQ_NAME) return consumeDeadLetters(batch, env, deps);
    if (batch.queue === PUSH_QUEUE_NAME) return consumePushBatch(batch, env, createProviders(env, deps), deps);
    console.error(`no consumer for queue ${batch.queue}; retrying its messages`);
    batch.retryAll();
  },
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(
      runRetention(env, controller.scheduledTime).then((reports) => {
        for (const r of reports) console.log("retention", JSON.stringify(r));
      }),
    );
  },
} satisfies ExportedHandler<Env>;
