import { env } from "cloudflare:workers";
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../workers/index";
import { EVENTS_DLQ_NAME, EVENTS_QUEUE_NAME } from "../src/queues";
import { api, createGroup, eventually, expectError, sendHttp, setupTenant } from "./helpers";
import { verifyStandardWebhook } from "../src/crm/standard";
import { roomName } from "../src/protocol/ids";
import type { CardAction, EndpointCreated, EndpointDeliveries, EventsPage, Message } from "./responses";

/** A CRM's endpoint: records each delivery and answers with the given statuses in turn (then 200). */
function crmEndpoint(...statuses: number[]) {
  const received: { headers: Headers; body: Uint8Array; json: { type: string; data: Record<string, unknown> } }[] = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (!request.url.startsWith("http://127.0.0.1:9")) return real(input, init);
    const body = new Uint8Array(await request.arrayBuffer());
    received.push({ headers: request.headers, body, json: JSON.parse(new TextDecoder().decode(body)) });
    return new Response(null, { status: statuses.shift() ?? 200 });
  });
  return received;
}

afterEach(() => vi.restoreAllMocks());

describe("outbound CRM events", () => {
  it("delivers message.created for chosen conversations, signed with Standard Webhooks", async () => {
    const received = crmEndpoint();
    const t = await setupTenant();
    const watched = await createGroup(t.tokens.alice!, ["bob"], "Watched");
    const other = await createGroup(t.tokens.alice!, ["bob"], "Other");
    const ep = await api<EndpointCreated>("POST", "/v1/webhooks", { token: t.apiKey, body: { url: "http://127.0.0.1:9/crm", events: ["message.created"], conversationIds: [watched] } });
    expect(ep.status).toBe(201);
    expect(ep.body.secret).toMatch(/^whsec_/);
    await sendHttp(t.tokens.alice!, watched, "w1", "to the CRM");
    await sendHttp(t.tokens.alice!, other, "o1", "not to the CRM");
    await runDurableObjectAlarm(env.ROOMS.getByName(roomName(t.tenantId, watched)));
    await runDurableObjectAlarm(env.ROOMS.getByName(roomName(t.tenantId, other)));
    await eventually(() => Promise.resolve(expect(received).toHaveLength(1)));
    const [delivery] = received;
    expect(delivery!.json).toMatchObject({ type: "message.created", data: { conversation: { id: watched }, message: { seq: 1, body: { text: "to the CRM" } } } });
    const verified = await verifyStandardWebhook(
      { method: "POST", url: "http://127.0.0.1:9/crm", headers: delivery!.headers, body: delivery!.body, now: Date.now() },
      { secret: ep.body.secret },
    );
    expect(verified).toEqual({ ok: true });
    const log = await eventually(async () => {
      const r = await api<EndpointDeliveries>("GET", `/v1/webhooks/${ep.body.id}/deliveries`, { token: t.apiKey });
      expect(r.body.deliveries).toHaveLength(1);
      return r;
    });
    expect(log.body.deliveries[0]).toMatchObject({ type: "message.created", status: "delivered", responseStatus: 200 });
  });

  it("sends card.action and approval.decided", async () => {
    const received = crmEndpoint();
    const t = await setupTenant();
    const room = await createGroup(t.apiKey, ["alice", "bob"], "Deals");
    await api("POST", "/v1/webhooks", { token: t.apiKey, body: { url: "http://127.0.0.1:9/crm", events: ["card.action", "approval.decided"] } });
    await api("POST", `/v1/conversations/${room}/messages`, {
      token: t.apiKey,
      body: { clientId: "card", kind: "crm", body: { source: "standard", objectType: "lead", objectId: "L1", event: "lead.created", title: "ACME" } },
    });
    const acted = await api<CardAction>("POST", `/v1/conversations/${room}/messages/1/actions`, { token: t.tokens.alice!, body: { action: "claim" } });
    expect(acted.status).toBe(202);
    expectError(await api("POST", `/v1/conversations/${room}/messages/1/actions`, { token: t.tokens.alice!, body: { action: "Not Valid!" } }), 400, "invalid_request");
    const req = await api<Message>("POST", `/v1/conversations/${room}/messages`, { token: t.tokens.alice!, body: { clientId: "a", kind: "approval", body: { title: "Discount", approvers: ["bob"] } } });
    await api("POST", `/v1/conversations/${room}/messages/${req.body.seq}/decision`, { token: t.tokens.bob!, body: { clientId: "d", decision: "approve" } });
    await runDurableObjectAlarm(env.ROOMS.getByName(roomName(t.tenantId, room)));
    await eventually(() => Promise.resolve(expect(received).toHaveLength(2)));
    const types = received.map((r) => r.json.type).sort();
    expect(types).toEqual(["approval.decided", "card.action"]);
    expect(received.find((r) => r.json.type === "card.action")!.json.data).toMatchObject({ action: "claim", userId: "alice", seq: 1 });
    expect(received.find((r) => r.json.type === "approval.decided")!.json.data).toMatchObject({ state: "approved", title: "Discount" });
  });

  it("refuses private endpoints outside development and validates subscriptions", async () => {
    const t = await setupTenant();
    expectError(await api("POST", "/v1/webhooks", { token: t.apiKey, body: { url: "http://10.1.2.3/x", events: ["message.created"] } }), 400, "invalid_request");
    expectError(await api("POST", "/v1/webhooks", { token: t.apiKey, body: { url: "http://127.0.0.1:9/x", events: ["lead.created"] } }), 400, "invalid_request");
    expectError(await api("POST", "/v1/webhooks", { token: t.tokens.alice!, body: { url: "http://127.0.0.1:9/x", events: ["message.created"] } }), 403, "forbidden");
  });

  it("retries transient failures with backoff, fails permanent ones, and records dead letters", async () => {
    const t = await setupTenant();
    const ep = await api<EndpointCreated>("POST", "/v1/webhooks", { token: t.apiKey, body: { url: "http://127.0.0.1:9/crm", events: ["message.created"] } });
    const job = (n: number) => ({ eventId: `e${n}`, endpointId: ep.body.id, tenantId: t.tenantId, type: "message.created", data: { n }, createdAt: Date.now() });
    crmEndpoint(503, 404, 200);
    const batch = createMessageBatch(EVENTS_QUEUE_NAME, [1, 2, 3].map((n) => ({ id: `m${n}`, timestamp: new Date(), attempts: 2, body: job(n) })));
    const delays: Record<string, number | undefined> = {};
    for (const m of batch.messages) {
      const retry = m.retry.bind(m);
      vi.spyOn(m, "retry").mockImplementation((o) => {
        delays[m.id] = o?.delaySeconds;
        retry(o);
      });
    }
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
    expect(delays).toEqual({ m1: 10 });
    expect(result.explicitAcks.sort()).toEqual(["m2", "m3"]);
    const dlq = createMessageBatch(EVENTS_DLQ_NAME, [{ id: "d1", timestamp: new Date(), attempts: 9, body: job(1) }]);
    const ctx2 = createExecutionContext();
    await worker.queue(dlq, env, ctx2);
    await getQueueResult(dlq, ctx2);
    const log = await api<EndpointDeliveries>("GET", `/v1/webhooks/${ep.body.id}/deliveries`, { token: t.apiKey });
    const byEvent = Object.fromEntries(log.body.deliveries.map((d: { eventId: string; status: string }) => [d.eventId, d.status]));
    expect(byEvent).toEqual({ e1: "dead", e2: "failed", e3: "delivered" });
    // Each attempt is one of the tenant's reporting events too, with the status class, never the payload.
    const events = await api<EventsPage>("GET", "/v1/events?type=outbound.attempt", { token: t.apiKey });
    expect(events.body.events.map((e: { data: Record<string, unknown> }) => [e.data.eventId, e.data.outcome, e.data.responseStatus]).sort()).toEqual([
      ["e1", "retrying", 503],
      ["e2", "failed", 404],
      ["e3", "delivered", 200],
    ]);
  });
});
