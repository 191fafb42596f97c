import { env } from "cloudflare:workers";
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../workers/index";
import { PUSH_DLQ_NAME, PUSH_QUEUE_NAME } from "../src/queues";
import { api, eventually, expectError, setupTenant } from "./helpers";
import { pushJobId, type PushJob } from "../src/push/job";
import { PUSH_RETRY } from "../src/push/dispatch";
import { retryDelaySeconds } from "../src/net/retry";
import type { Device, DeviceList, EventsPage, PushDeliveries, PushTest, TenantUsage } from "./responses";

function job(tenantId: string, userId: string, deviceId: string, seq: number, endpoint = "http://127.0.0.1:9/hook"): PushJob {
  const notification = { tenantId, userId, deviceId, conversationId: "g_00000000000000000000000000000000", seq, sender: "alice", preview: "hi", badge: 1, title: "Team" };
  return { jobId: pushJobId(notification), target: { platform: "webhook", endpoint }, notification, createdAt: Date.now() };
}

/** Answer webhook deliveries with the given statuses in turn, recording each request. */
function gateway(...responses: (() => Response)[]) {
  const calls: Request[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    calls.push(new Request(input, init));
    const next = responses.shift();
    if (!next) throw new Error("unexpected push request");
    return next();
  });
  return calls;
}

async function consume(queue: string, messages: { body: unknown; attempts?: number }[]) {
  const batch = createMessageBatch(
    queue,
    messages.map((m, i) => ({ id: `msg-${i}`, timestamp: new Date(), attempts: m.attempts ?? 1, body: m.body })),
  );
  // Pass-through spies: the batch behaves as the runtime's, and the requested delays become visible.
  const delays = new Map<string, number | undefined>();
  for (const m of batch.messages) {
    const retry = m.retry.bind(m);
    vi.spyOn(m, "retry").mockImplementation((options) => {
      delays.set(m.id, options?.delaySeconds);
      retry(options);
    });
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return { ...(await getQueueResult(batch, ctx)), delays };
}

async function deliveryRow(jobId: string) {
  return env.DB.prepare("SELECT status, attempts, detail FROM push_deliveries WHERE job_id = ?").bind(jobId).first<{ status: string; attempts: number; detail: string }>();
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the push queue consumer", () => {
  it("acks a delivered job and records it; a redelivery is acked without sending again", async () => {
    const calls = gateway(() => new Response(null, { status: 201 }));
    const j = job("t-q1", "bob", "w", 1);
    const first = await consume(PUSH_QUEUE_NAME, [{ body: j }]);
    expect(first.explicitAcks).toEqual(["msg-0"]);
    expect(first.retryMessages).toEqual([]);
    expect(calls).toHaveLength(1);
    expect(await calls[0]!.json()).toEqual({ tenantId: "t-q1", userId: "bob", deviceId: "w", conversationId: j.notification.conversationId, seq: 1, sender: "alice", preview: "hi", badge: 1 });
    expect(await deliveryRow(j.jobId)).toMatchObject({ status: "delivered", attempts: 1 });
    const again = await consume(PUSH_QUEUE_NAME, [{ body: j, attempts: 2 }]);
    expect(again.explicitAcks).toEqual(["msg-0"]);
    expect(calls).toHaveLength(1);
  });

  it("retries transient failures on their own, with exponential backoff and Retry-After honoured", async () => {
    gateway(
      () => new Response(null, { status: 500 }),
      () => new Response(null, { status: 429, headers: { "Retry-After": "120" } }),
      () => new Response(null, { status: 200 }),
    );
    const result = await consume(PUSH_QUEUE_NAME, [
      { body: job("t-q2", "bob", "a", 1), attempts: 3 },
      { body: job("t-q2", "bob", "b", 1), attempts: 1 },
      { body: job("t-q2", "bob", "c", 1), attempts: 1 },
    ]);
    // Requests go out concurrently, so match outcomes by set: one ack and two retries.
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toHaveLength(2);
    // The first job (third attempt) failed with 500: backoff 10 s x 2^2; the second got 429 with Retry-After: 120.
    expect(Object.fromEntries(result.delays)).toEqual({ "msg-0": 40, "msg-1": 120 });
    expect(retryDelaySeconds(PUSH_RETRY, 1)).toBe(10);
    expect(retryDelaySeconds(PUSH_RETRY, 3)).toBe(40);
    expect(retryDelaySeconds(PUSH_RETRY, 3, 120)).toBe(120);
    expect(retryDelaySeconds(PUSH_RETRY, 30)).toBe(3600);
  });

  it("deletes a device whose endpoint is gone (404/410) and acks the job", async () => {
    const t = await setupTenant();
    await api("POST", "/v1/devices", { token: t.tokens.bob!, body: { id: "old", platform: "webhook", endpoint: "http://127.0.0.1:9/old" } });
    await api("POST", "/v1/devices", { token: t.tokens.bob!, body: { id: "gone", platform: "webhook", endpoint: "http://127.0.0.1:9/gone" } });
    gateway(() => new Response(null, { status: 410 }), () => new Response(null, { status: 404 }));
    const result = await consume(PUSH_QUEUE_NAME, [{ body: job(t.tenantId, "bob", "old", 1) }, { body: job(t.tenantId, "bob", "gone", 1) }]);
    expect(result.explicitAcks.sort()).toEqual(["msg-0", "msg-1"]);
    const devices = await api<DeviceList>("GET", "/v1/devices", { token: t.tokens.bob! });
    expect(devices.body.devices).toEqual([]);
    expect(await deliveryRow(job(t.tenantId, "bob", "old", 1).jobId)).toMatchObject({ status: "gone" });
  });

  it("acks permanent failures without retrying", async () => {
    gateway(() => new Response("bad", { status: 400 }));
    const result = await consume(PUSH_QUEUE_NAME, [{ body: job("t-q4", "bob", "w", 1) }]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(await deliveryRow(job("t-q4", "bob", "w", 1).jobId)).toMatchObject({ status: "failed" });
  });

  it("acks and drops a message that is not a push job", async () => {
    gateway();
    const result = await consume(PUSH_QUEUE_NAME, [{ body: { nonsense: true } }]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
  });

  it("records jobs whose retries ran out as dead when they reach the dead-letter queue", async () => {
    const j = job("t-q5", "bob", "w", 7);
    const result = await consume(PUSH_DLQ_NAME, [{ body: j, attempts: 6 }]);
    expect(result.explicitAcks).toEqual(["msg-0"]);
    expect(await deliveryRow(j.jobId)).toMatchObject({ status: "dead", detail: "retries exhausted" });
  });

});

describe("test pushes and device registration", () => {
  it("queues a test push to one of my devices and reports its delivery", async () => {
    const t = await setupTenant();
    const calls = gateway(() => new Response(null, { status: 204 }));
    await api("POST", "/v1/devices", { token: t.tokens.bob!, body: { id: "w", platform: "webhook", endpoint: "http://127.0.0.1:9/t" } });
    const res = await api<PushTest>("POST", "/v1/devices/w/test", { token: t.tokens.bob! });
    expect(res.status).toBe(202);
    // The job travels through the real local queue to the consumer.
    await eventually(() => Promise.resolve(expect(calls).toHaveLength(1)));
    expect(new URL(calls[0]!.url).pathname).toBe("/t");
    const deliveries = await eventually(async () => {
      const r = await api<PushDeliveries>("GET", "/v1/devices/w/deliveries", { token: t.tokens.bob! });
      expect(r.body.deliveries).toHaveLength(1);
      return r;
    });
    expect(deliveries.body.deliveries[0]).toMatchObject({ jobId: res.body.jobId, deviceId: "w", status: "delivered" });
    expectError(await api("POST", "/v1/devices/nope/test", { token: t.tokens.bob! }), 404, "not_found");
  });

  it("validates each platform's fields", async () => {
    const t = await setupTenant();
    const post = (body: unknown) => api<Device>("POST", "/v1/devices", { token: t.tokens.bob!, body });
    expect((await post({ id: "x", platform: "carrier-pigeon" })).status).toBe(400);
    expect((await post({ id: "x", platform: "fcm" })).status).toBe(400);
    expect((await post({ id: "x", platform: "apns", token: "not-hex" })).status).toBe(400);
    expect((await post({ id: "x", platform: "webpush", subscription: { endpoint: "https://push.example.net/x", keys: { p256dh: "AAAA", auth: "BBBB" } } })).status).toBe(400);
    expect((await post({ id: "x", platform: "webhook", endpoint: "http://10.0.0.1/push" })).status).toBe(400);
    expect((await post({ id: "x", platform: "webhook" })).status).toBe(400);
    expect((await post({ id: "a b", platform: "fcm", token: "abc:def" })).status).toBe(400);
    const ok = await post({ id: "ios", platform: "apns", token: "a".repeat(64) });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ id: "ios", platform: "apns" });
    const list = await api<DeviceList>("GET", "/v1/devices", { token: t.tokens.bob! });
    expect(list.body.devices.map((d: { id: string }) => d.id)).toEqual(["ios"]);
    expect((await api("DELETE", "/v1/devices/ios", { token: t.tokens.bob! })).status).toBe(204);
    expect((await api("DELETE", "/v1/devices/ios", { token: t.tokens.bob! })).status).toBe(404);
  });
});

describe("push attempts in the reporting events and usage", () => {
  it("reports each attempt to its tenant by provider and outcome, and counts delivered pushes", async () => {
    const t = await setupTenant(["bob"]);
    gateway(
      () => new Response(null, { status: 201 }),
      () => new Response("upstream says: secret internals", { status: 503 }),
    );
    await consume(PUSH_QUEUE_NAME, [{ body: job(t.tenantId, "bob", "w1", 1) }, { body: job(t.tenantId, "bob", "w2", 2) }]);
    const events = await api<EventsPage>("GET", "/v1/events?type=push.attempt", { token: t.apiKey });
    expect(events.body.events.map((e: { data: Record<string, unknown> }) => [e.data.deviceId, e.data.provider, e.data.outcome]).sort()).toEqual([
      ["w1", "webhook", "delivered"],
      ["w2", "webhook", "retrying"],
    ]);
    expect(JSON.stringify(events.body)).not.toContain("secret internals");
    const usage = await api<TenantUsage>("GET", "/v1/usage", { token: t.apiKey });
    expect(usage.body.days.at(-1)?.pushes).toEqual({ webpush: 0, fcm: 0, apns: 0, webhook: 1 });
  });
});
