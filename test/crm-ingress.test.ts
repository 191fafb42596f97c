import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, BASE, createGroup, expectError, setupTenant, type TestTenant } from "./helpers";
import { signStandardWebhook } from "../src/crm/standard";
import { hubspotV3Signature } from "../src/crm/hubspot";
import { directConversationId } from "../src/domain/conversation-ids";
import type { EventsPage, IntegrationCreated, IntegrationList, IntegrationRotated, MessagesPage, TenantUsage } from "./responses";

const enc = new TextEncoder();

async function integration(t: TestTenant, body: Record<string, unknown>) {
  const res = await api<IntegrationCreated>("POST", "/v1/integrations", { token: t.apiKey, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; url: string; secret: string };
}

/** Deliver a Standard Webhooks event exactly as a sender would: signature over id.timestamp.body. */
async function deliverStandard(hook: { url: string; secret: string }, event: unknown, opts: { id?: string; ts?: number; secret?: string; raw?: string } = {}) {
  const body = opts.raw ?? JSON.stringify(event);
  const id = opts.id ?? `msg_${crypto.randomUUID()}`;
  const ts = String(Math.floor((opts.ts ?? Date.now()) / 1000));
  const signature = await signStandardWebhook(opts.secret ?? hook.secret, id, ts, enc.encode(body));
  const res = await exports.default.fetch(hook.url, {
    method: "POST",
    headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": signature },
    body,
  });
  return { status: res.status, text: await res.text(), id };
}

const messagesOf = async (token: string, id: string) => (await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token })).body.messages as { seq: number; kind: string; sender: string; body: Record<string, unknown>; replyTo?: number }[];
const lead = (id: string, extra: Record<string, unknown> = {}) => ({ type: "lead.created", data: { id, title: `Lead ${id}`, company: "ACME", ...extra } });

describe("CRM ingress (Standard Webhooks)", () => {
  it("turns a signed delivery into a crm card from bot in the integration's conversation", async () => {
    const t = await setupTenant();
    const room = await createGroup(t.apiKey, ["alice"], "Leads");
    const hook = await integration(t, { kind: "standard", name: "CRM", conversationId: room });
    expect(hook.secret).toMatch(/^whsec_/);
    const res = await deliverStandard(hook, lead("L-1", { amount: 1200, currency: "EUR", owner: "alice" }));
    expect(res.status).toBe(200);
    const [card] = await messagesOf(t.tokens.alice!, room);
    expect(card).toMatchObject({ kind: "crm", sender: "bot", body: { source: "standard", objectType: "lead", objectId: "L-1", event: "lead.created", title: "Lead L-1", company: "ACME", amount: 1200, currency: "EUR" } });
  });

  it("refuses a bad signature or a stale timestamp with 401 and stores nothing", async () => {
    const t = await setupTenant();
    const room = await createGroup(t.apiKey, ["alice"], "Leads");
    const hook = await integration(t, { kind: "standard", name: "CRM", conversationId: room });
    expect((await deliverStandard(hook, lead("L-1"), { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" })).status).toBe(401);
    expect((await deliverStandard(hook, lead("L-2"), { ts: Date.now() - 6 * 60_000 })).status).toBe(401);
    expect((await deliverStandard(hook, lead("L-3"), { ts: Date.now() + 6 * 60_000 })).status).toBe(401);
    const unsigned = await exports.default.fetch(hook.url, { method: "POST", body: JSON.stringify(lead("L-4")) });
    expect(unsigned.status).toBe(401);
    await unsigned.text();
    expect(await messagesOf(t.tokens.alice!, room)).toEqual([]);
  });

  it("answers a replayed delivery 200 and stores nothing new", async () => {
    const t = await setupTenant();
    const room = await createGroup(t.apiKey, ["alice"], "Leads");
    const hook = await integration(t, { kind: "standard", name: "CRM", conversationId: room });
    const first = await deliverStandard(hook, lead("L-1"), { id: "msg_fixed" });
    const again = await deliverStandard(hook, lead("L-1"), { id: "msg_fixed" });
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(await messagesOf(t.tokens.alice!, room)).toHaveLength(1);
  });

  it("refuses an oversize body with 413 and a malformed body after a valid signature with 400", async () => {
    const t = await setupTenant();
    const room = await createGroup(t.apiKey, ["alice"], "Leads");
    const hook = await integration(t, { kind: "standard", name: "CRM", conversationId: room });
    const big = await deliverStandard(hook, null, { raw: JSON.stringify({ type: "lead.created", data: { id: "x", title: "x".repeat(600 * 1024) } }) });
    expect(big.status).toBe(413);
    expect((await deliverStandard(hook, null, { raw: "{not json" })).status).toBe(400);
    expect((await deliverStandard(hook, { type: "lead.exploded", data: { id: "1", title: "t" } })).status).toBe(400);
    expect(await messagesOf(t.tokens.alice!, room)).toEqual([]);
    const unknown = await exports.default.fetch(`${BASE}/v1/hooks/int_00000000000000000000000000000000`, { method: "POST", body: "{}" });
    expect(unknown.status).toBe(404);
    await unknown.text();
  });

  it("routes to the owner's direct conversation with bot, and unknown owners to the integration's inbox", async () => {
    const t = await setupTenant();
    const hook = await integration(t, { kind: "standard", name: "Pipeline" });
    expect((await deliverStandard(hook, lead("L-1", { owner: "alice" }))).status).toBe(200);
    const direct = await directConversationId(t.tenantId, "bot", "alice");
    expect((await messagesOf(t.tokens.alice!, direct))[0]).toMatchObject({ kind: "crm", body: { objectId: "L-1" } });
    expect((await deliverStandard(hook, lead("L-2", { owner: "ghost" }))).status).toBe(200);
    expect((await deliverStandard(hook, lead("L-3"))).status).toBe(200);
    const listed = await api<IntegrationList>("GET", "/v1/integrations", { token: t.apiKey });
    const inbox = listed.body.integrations[0]!.inboxConversationId as string;
    expect(inbox).toMatch(/^g_/);
    const cards = await messagesOf(t.tokens.alice!, inbox);
    expect(cards.map((m) => m.body.objectId)).toEqual(["L-2", "L-3"]);
  });

  it("posts a later event about the same object as a new card that references the first", async () => {
    const t = await setupTenant();
    const room = await createGroup(t.apiKey, ["alice"], "Deals");
    const hook = await integration(t, { kind: "standard", name: "CRM", conversationId: room });
    await deliverStandard(hook, { type: "opportunity.created", data: { id: "O-9", title: "ACME renewal", stage: "qualification", amount: 50000, currency: "USD" } });
    await deliverStandard(hook, lead("L-1"));
    await deliverStandard(hook, { type: "opportunity.stage_changed", data: { id: "O-9", title: "ACME renewal", stage: "proposal" } });
    const cards = await messagesOf(t.tokens.alice!, room);
    expect(cards.map((m) => [m.seq, m.body.objectId, m.body.stage ?? null, m.body.updates ?? null, m.replyTo ?? null])).toEqual([
      [1, "O-9", "qualification", null, null],
      [2, "L-1", null, null, null],
      [3, "O-9", "proposal", 1, 1],
    ]);
  });

  it("never lets an integration of one tenant post into another tenant's conversation", async () => {
    const a = await setupTenant();
    const b = await setupTenant();
    const roomB = await createGroup(b.apiKey, ["alice"], "B only");
    expectError(await api("POST", "/v1/integrations", { token: a.apiKey, body: { kind: "standard", name: "x", conversationId: roomB } }), 400, "invalid_request");
    const hookA = await integration(a, { kind: "standard", name: "A" });
    await deliverStandard(hookA, lead("L-1", { owner: "alice" }));
    expect(await messagesOf(b.tokens.alice!, roomB)).toEqual([]);
    const directB = await directConversationId(b.tenantId, "bot", "alice");
    expectError(await api("GET", `/v1/conversations/${directB}/messages`, { token: b.tokens.alice! }), 404, "not_found");
    // Tenant B cannot see, rotate or delete A's integration.
    expectError(await api("DELETE", `/v1/integrations/${hookA.id}`, { token: b.apiKey }), 404, "not_found");
    expectError(await api("POST", `/v1/integrations/${hookA.id}/rotate`, { token: b.apiKey }), 404, "not_found");
  });

  it("rotates the secret: the old one stops working", async () => {
    const t = await setupTenant();
    const room = await createGroup(t.apiKey, ["alice"], "Leads");
    const hook = await integration(t, { kind: "standard", name: "CRM", conversationId: room });
    const rotated = await api<IntegrationRotated>("POST", `/v1/integrations/${hook.id}/rotate`, { token: t.apiKey });
    expect(rotated.body.secret).not.toBe(hook.secret);
    expect((await deliverStandard(hook, lead("old"))).status).toBe(401);
    expect((await deliverStandard({ url: hook.url, secret: rotated.body.secret }, lead("new"))).status).toBe(200);
    expect((await api("DELETE", `/v1/integrations/${hook.id}`, { token: t.apiKey })).status).toBe(204);
    expect((await deliverStandard({ url: hook.url, secret: rotated.body.secret }, lead("gone"))).status).toBe(404);
  });
});

describe("CRM ingress (HubSpot, Salesforce, Slack)", () => {
  it("accepts a HubSpot v3-signed batch and posts its events in occurredAt order", async () => {
    const t = await setupTenant();
    const room = await createGroup(t.apiKey, ["alice"], "HubSpot");
    const hook = await integration(t, { kind: "hubspot", name: "HubSpot", conversationId: room, clientSecret: "hs-client-secret-123" });
    const now = Date.now();
    const events = [
      { eventId: 2, subscriptionId: 7, portalId: 62515, occurredAt: now - 1000, subscriptionType: "deal.propertyChange", attemptNumber: 0, objectId: 42, propertyName: "dealstage", propertyValue: "closedwon", changeSource: "CRM" },
      { eventId: 1, subscriptionId: 5, portalId: 62515, occurredAt: now - 2000, subscriptionType: "contact.creation", attemptNumber: 0, objectId: 1001, changeSource: "CRM" },
    ];
    const body = JSON.stringify(events);
    const ts = String(now);
    const sig = await hubspotV3Signature("hs-client-secret-123", "POST", hook.url, enc.encode(body), ts);
    const send = (signature: string) =>
      exports.default.fetch(hook.url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-hubspot-signature-v3": signature, "x-hubspot-request-timestamp": ts },
        body,
      });
    const bad = await send(sig.slice(0, -4) + "AAAA");
    expect(bad.status).toBe(401);
    await bad.text();
    const ok = await send(sig);
    expect(ok.status).toBe(200);
    await ok.text();
    const cards = await messagesOf(t.tokens.alice!, room);
    expect(cards.map((m) => [m.body.objectType, m.body.objectId, m.body.stage ?? null])).toEqual([
      ["lead", "1001", null],
      ["opportunity", "42", "closedwon"],
    ]);
  });

  it("answers a Salesforce Outbound Message with the SOAP Ack, checking the URL token", async () => {
    const t = await setupTenant();
    const room = await createGroup(t.apiKey, ["alice"], "Salesforce");
    const hook = await integration(t, { kind: "salesforce", name: "SF", conversationId: room });
    expect(hook.url).toContain(hook.secret);
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D5g000004XyZaEAK</OrganizationId>
   <ActionId>04k5g0000008OAbAAM</ActionId>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/59.0/00D5g000004XyZa</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/59.0/00D5g000004XyZa</PartnerUrl>
   <Notification>
    <Id>04l5g00000BBBBbAAP</Id>
    <sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>0065g00000QrStUAAV</sf:Id>
     <sf:Amount>125000.0</sf:Amount>
     <sf:Name>ACME expansion</sf:Name>
     <sf:StageName>Negotiation</sf:StageName>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`;
    const post = (url: string, body = xml) => exports.default.fetch(url, { method: "POST", headers: { "content-type": "text/xml" }, body });
    const wrong = await post(hook.url.replace(hook.secret, "0".repeat(48)));
    expect(wrong.status).toBe(401);
    await wrong.text();
    const res = await post(hook.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("<Ack>true</Ack>");
    const bomb = await post(hook.url, `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>`);
    // Refused before any parsing (the adapter rejects DOCTYPE and ENTITY outright), with a SOAP fault: the
    // URL token was right, so it is a bad body (400), not a bad credential.
    expect(bomb.status).toBe(400);
    expect(await bomb.text()).toContain("Fault");
    const cards = await messagesOf(t.tokens.alice!, room);
    expect(cards.map((m) => [m.body.objectType, m.body.title, m.body.stage])).toEqual([["opportunity", "ACME expansion", "Negotiation"]]);
  });

  it("accepts Slack-style posts as JSON or form payload and answers ok", async () => {
    const t = await setupTenant();
    const room = await createGroup(t.apiKey, ["alice"], "Alerts");
    const hook = await integration(t, { kind: "slack", name: "Zapier", conversationId: room });
    const json = await exports.default.fetch(hook.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "*New deal* <https://crm/1|ACME>" }) });
    expect([json.status, await json.text()]).toEqual([200, "ok"]);
    const form = await exports.default.fetch(hook.url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `payload=${encodeURIComponent(JSON.stringify({ text: "second alert" }))}`,
    });
    expect([form.status, await form.text()]).toEqual([200, "ok"]);
    const empty = await exports.default.fetch(hook.url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(empty.status).toBe(400);
    await empty.text();
    const cards = await messagesOf(t.tokens.alice!, room);
    expect(cards.map((m) => m.body.text)).toEqual(["*New deal* <https://crm/1|ACME>", "second alert"]);
  });
});

describe("CRM deliveries in the reporting events and usage", () => {
  it("reports accepted and refused deliveries to the tenant, and counts posted events as usage", async () => {
    const t = await setupTenant(["alice"]);
    const id = await createGroup(t.tokens.alice!, []);
    const hook = await integration(t, { kind: "standard", name: "CRM", conversationId: id });
    const first = await deliverStandard(hook, lead("L-1"));
    expect(first.status).toBe(200);
    // The same delivery again posts nothing new; a forged one is refused.
    expect((await deliverStandard(hook, lead("L-1"), { id: first.id })).status).toBe(200);
    expect((await deliverStandard(hook, lead("L-2"), { secret: "whsec_" + btoa("not the secret at all") })).status).toBe(401);
    const events = await api<EventsPage>("GET", "/v1/events?type=crm.delivery", { token: t.apiKey });
    expect(events.body.events.map((e: { data: Record<string, unknown> }) => [e.data.outcome, e.data.status, e.data.posted])).toEqual([
      ["accepted", 200, 1],
      ["accepted", 200, 0],
      ["refused", 401, 0],
    ]);
    expect(JSON.stringify(events.body)).not.toContain(hook.secret);
    const usage = await api<TenantUsage>("GET", "/v1/usage", { token: t.apiKey });
    expect(usage.body.days.at(-1)).toMatchObject({ crmEvents: 1 });
  });
});
