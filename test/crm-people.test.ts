import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, api, expectError, setupTenant, uniqueId, type TestTenant } from "./helpers";
import { hubspotV3Signature } from "../src/crm/hubspot";
import { lead, signedDelivery } from "./crm-fixtures";
import { directConversationId } from "../src/domain/conversation-ids";
import { inboxConversationId } from "../src/crm/inbox";
import type { Conversation, Integration, IntegrationCreated, IntegrationList, IssuedToken, MessagesPage, TenantCreated, User } from "./responses";

const enc = new TextEncoder();
type Msg = { seq: number; kind: string; sender: string; body: Record<string, unknown> };
const messagesOf = async (token: string, id: string) => (await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token })).body.messages as Msg[];

async function integration(t: { apiKey: string }, body: Record<string, unknown>) {
  const res = await api<IntegrationCreated>("POST", "/v1/integrations", { token: t.apiKey, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; url: string; secret: string; inboxMembers: string[] | null; inboxConversationId: string | null };
}

async function deliverStandard(hook: { url: string; secret: string }, event: unknown, id?: string) {
  return (await signedDelivery(hook, event, id))();
}


describe("people's CRM ids", () => {
  it("are set with PUT /v1/users/:id, shown on the user, kept when left out and cleared with {}", async () => {
    const t = await setupTenant(["alice"]);
    const put = await api<User>("PUT", "/v1/users/alice", { token: t.apiKey, body: { name: "Alice", crm: { hubspot: 512, salesforce: "0055g00000AbCdEAAV" }, crmAdmin: true } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body).toMatchObject({ id: "alice", crm: { hubspot: "512", salesforce: "0055g00000AbCdEAAV" }, crmAdmin: true });
    const renamed = await api<User>("PUT", "/v1/users/alice", { token: t.apiKey, body: { name: "Alice A." } });
    expect(renamed.body).toMatchObject({ name: "Alice A.", crm: { hubspot: "512", salesforce: "0055g00000AbCdEAAV" }, crmAdmin: true });
    expect((await api<User>("GET", "/v1/users/alice", { token: t.tokens.alice! })).body.crm).toEqual({ hubspot: "512", salesforce: "0055g00000AbCdEAAV" });
    const cleared = await api<User>("PUT", "/v1/users/alice", { token: t.apiKey, body: { name: "Alice", crm: {}, crmAdmin: false } });
    expect(cleared.body).toMatchObject({ crm: {}, crmAdmin: false });
  });

  it("are unique per tenant and system: a clash is 409 and changes nothing; 15 and 18-character Salesforce ids clash", async () => {
    const t = await setupTenant(["alice", "bob"]);
    expect((await api("PUT", "/v1/users/alice", { token: t.apiKey, body: { name: "Alice", crm: { salesforce: "0055g00000AbCdEAAV" } } })).status).toBe(200);
    const clash = await api<User>("PUT", "/v1/users/bob", { token: t.apiKey, body: { name: "Robert", crm: { salesforce: "0055g00000AbCdE" } } });
    expectError(clash, 409, "conflict");
    expect((await api<User>("GET", "/v1/users/bob", { token: t.apiKey })).body).toMatchObject({ name: "BOB", crm: {} });
    // The same id in another system, or in another tenant, is no clash.
    expect((await api("PUT", "/v1/users/bob", { token: t.apiKey, body: { name: "Bob", crm: { pipedrive: "0055g00000AbCdEAAV" } } })).status).toBe(200);
    const other = await setupTenant(["carol"]);
    expect((await api("PUT", "/v1/users/carol", { token: other.apiKey, body: { name: "Carol", crm: { salesforce: "0055g00000AbCdEAAV" } } })).status).toBe(200);
  });

  it("refuse what is not an id: bad system names, invalid Salesforce ids, too many systems, the bot", async () => {
    const t = await setupTenant(["alice"]);
    const put = (body: Record<string, unknown>, user = "alice") => api<User>("PUT", `/v1/users/${user}`, { token: t.apiKey, body: { name: "Alice", ...body } });
    expectError(await put({ crm: { salesforce: "0055g00000AbCdEXXX" } }), 400, "invalid_request");
    expectError(await put({ crm: { salesforce: "short" } }), 400, "invalid_request");
    expectError(await put({ crm: { HubSpot: "1" } }), 400, "invalid_request");
    const proto = await api<User>("PUT", "/v1/users/alice", { token: t.apiKey, rawBody: '{"name":"Alice","crm":{"__proto__":"1"}}', headers: { "content-type": "application/json" } });
    expectError(proto, 400, "invalid_request");
    expectError(await put({ crm: { hubspot: "has space" } }), 400, "invalid_request");
    expectError(await put({ crm: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`s${i}`, "1"])) }), 400, "invalid_request");
    expectError(await put({ crm: { hubspot: "1" } }, "bot"), 400, "invalid_request");
    expect((await api<User>("GET", "/v1/users/alice", { token: t.apiKey })).body.crm).toEqual({});
  });
});

describe("routing CRM events to people", () => {
  it("finds the owner by user id or by CRM id; a Salesforce OwnerId in its 18-character form finds the 15-character one", async () => {
    const t = await setupTenant(["alice", "bob"]);
    await api("PUT", "/v1/users/bob", { token: t.apiKey, body: { name: "Bob", crm: { salesforce: "0055g00000AbCdE", acme: "rep-7" } } });
    const sf = await integration(t, { kind: "salesforce", name: "SF" });
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">
  <OrganizationId>00D5g000004XyZaEAK</OrganizationId>
  <Notification><Id>04l5g00000CCCCcAAP</Id>
   <sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
    <sf:Id>0065g00000QrStUAAV</sf:Id><sf:Name>ACME expansion</sf:Name><sf:OwnerId>0055g00000AbCdEAAV</sf:OwnerId>
   </sObject></Notification>
 </notifications></soapenv:Body></soapenv:Envelope>`;
    const res = await exports.default.fetch(sf.url, { method: "POST", headers: { "content-type": "text/xml" }, body: xml });
    expect([res.status, await res.text()]).toEqual([200, expect.stringContaining("<Ack>true</Ack>")]);
    const bobDirect = await directConversationId(t.tenantId, "bot", "bob");
    expect((await messagesOf(t.tokens.bob!, bobDirect)).map((m) => [m.body.title, m.body.owner])).toEqual([["ACME expansion", "bob"]]);

    const std = await integration(t, { kind: "standard", name: "Custom" });
    expect((await deliverStandard(std, lead("L-1", "alice"))).status).toBe(200);
    expect((await deliverStandard(std, lead("L-2", "rep-7"))).status).toBe(200);
    const aliceDirect = await directConversationId(t.tenantId, "bot", "alice");
    expect((await messagesOf(t.tokens.alice!, aliceDirect)).map((m) => m.body.objectId)).toEqual(["L-1"]);
    expect((await messagesOf(t.tokens.bob!, bobDirect)).map((m) => m.body.objectId)).toEqual(["0065g00000QrStUAAV", "L-2"]);
  });

  it("routes a HubSpot owner change to the person whose crm.hubspot is the new owner", async () => {
    const t = await setupTenant(["alice"]);
    await api("PUT", "/v1/users/alice", { token: t.apiKey, body: { name: "Alice", crm: { hubspot: "910" } } });
    const hook = await integration(t, { kind: "hubspot", name: "HubSpot", clientSecret: "hs-client-secret-123" });
    const now = Date.now();
    const body = JSON.stringify([
      { eventId: 9, subscriptionId: 3, portalId: 62515, occurredAt: now - 500, subscriptionType: "deal.propertyChange", objectId: 77, propertyName: "hubspot_owner_id", propertyValue: "910" },
    ]);
    const ts = String(now);
    const signature = await hubspotV3Signature("hs-client-secret-123", "POST", hook.url, enc.encode(body), ts);
    const res = await exports.default.fetch(hook.url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hubspot-signature-v3": signature, "x-hubspot-request-timestamp": ts },
      body,
    });
    expect(res.status).toBe(200);
    await res.text();
    const direct = await directConversationId(t.tenantId, "bot", "alice");
    expect((await messagesOf(t.tokens.alice!, direct)).map((m) => [m.body.objectType, m.body.objectId, m.body.owner])).toEqual([["opportunity", "77", "alice"]]);
  });
});

describe("the integration's inbox", () => {
  it("receives events of unknown owners and is seen by the integration's inboxMembers", async () => {
    const t = await setupTenant(["alice", "bob", "carol"]);
    const hook = await integration(t, { kind: "standard", name: "Leads", inboxMembers: ["bob", "carol"] });
    expect(hook.inboxMembers).toEqual(["bob", "carol"]);
    expect((await deliverStandard(hook, lead("L-1", "ghost"))).status).toBe(200);
    expect((await deliverStandard(hook, lead("L-2"))).status).toBe(200);
    const inbox = await inboxConversationId(t.tenantId, hook.id);
    const view = await api<Conversation>("GET", `/v1/conversations/${inbox}`, { token: t.tokens.bob! });
    expect(view.body).toMatchObject({ type: "group", name: "Leads: inbox", members: ["bob", "bot", "carol"] });
    expect((await messagesOf(t.tokens.carol!, inbox)).map((m) => [m.body.objectId, m.body.owner ?? null])).toEqual([["L-1", "ghost"], ["L-2", null]]);
    expectError(await api("GET", `/v1/conversations/${inbox}`, { token: t.tokens.alice! }), 404, "not_found");
    expect((await api<Integration>("GET", `/v1/integrations/${hook.id}`, { token: t.apiKey })).body.inboxConversationId).toBe(inbox);
  });

  it("defaults to the people marked crmAdmin, else to the tenant's longest-standing person", async () => {
    const t = await setupTenant(["alice", "bob", "carol"]);
    expect((await integration(t, { kind: "standard", name: "First" })).inboxMembers).toEqual(["alice"]);
    await api("PUT", "/v1/users/carol", { token: t.apiKey, body: { name: "Carol", crmAdmin: true } });
    await api("PUT", "/v1/users/bob", { token: t.apiKey, body: { name: "Bob", crmAdmin: true } });
    const hook = await integration(t, { kind: "standard", name: "Second" });
    expect(hook.inboxMembers).toEqual(["bob", "carol"]);
    expect((await deliverStandard(hook, lead("L-1"))).status).toBe(200);
    const inbox = await inboxConversationId(t.tenantId, hook.id);
    expect((await api<Conversation>("GET", `/v1/conversations/${inbox}`, { token: t.tokens.bob! })).body.members).toEqual(["bob", "bot", "carol"]);
  });

  it("refuses the fallbackConversationId of earlier versions, pointing at inboxMembers", async () => {
    const t = await setupTenant(["alice"]);
    const res = await api<IntegrationCreated>("POST", "/v1/integrations", { token: t.apiKey, body: { kind: "standard", name: "x", fallbackConversationId: "g_" + "1".repeat(32) } });
    expectError(res, 400, "invalid_request");
    expect(res.body.error.message).toMatch(/inboxMembers/);
  });

  it("refuses inboxMembers nobody could use: empty, unknown people, the bot", async () => {
    const t = await setupTenant(["alice"]);
    for (const inboxMembers of [[], ["ghost"], ["bot"], "alice"]) {
      expectError(await api("POST", "/v1/integrations", { token: t.apiKey, body: { kind: "standard", name: "x", inboxMembers } }), 400, "invalid_request");
    }
    expect((await api<IntegrationList>("GET", "/v1/integrations", { token: t.apiKey })).body.integrations).toEqual([]);
  });

  it("takes new inboxMembers with PATCH: an existing inbox gains the new people and loses the dropped ones", async () => {
    const t = await setupTenant(["alice", "bob", "carol"]);
    const hook = await integration(t, { kind: "standard", name: "Leads", inboxMembers: ["alice", "bob"] });
    await deliverStandard(hook, lead("L-1"));
    const patched = await api<Integration>("PATCH", `/v1/integrations/${hook.id}`, { token: t.apiKey, body: { inboxMembers: ["bob", "carol"] } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.inboxMembers).toEqual(["bob", "carol"]);
    const inbox = await inboxConversationId(t.tenantId, hook.id);
    expect((await api<Conversation>("GET", `/v1/conversations/${inbox}`, { token: t.tokens.carol! })).body.members).toEqual(["bob", "bot", "carol"]);
    expectError(await api("PATCH", `/v1/integrations/${hook.id}`, { token: t.apiKey, body: { inboxMembers: [] } }), 400, "invalid_request");
    const other = await setupTenant(["alice"]);
    expectError(await api("PATCH", `/v1/integrations/${hook.id}`, { token: other.apiKey, body: { inboxMembers: ["alice"] } }), 404, "not_found");
  });

  it("takes its people back when everyone left it, so an event is never shown to nobody", async () => {
    const t = await setupTenant(["alice"]);
    const hook = await integration(t, { kind: "standard", name: "Leads", inboxMembers: ["alice"] });
    await deliverStandard(hook, lead("L-1"));
    const inbox = await inboxConversationId(t.tenantId, hook.id);
    expect((await api("DELETE", `/v1/conversations/${inbox}/members/alice`, { token: t.tokens.alice! })).status).toBe(204);
    expect((await deliverStandard(hook, lead("L-2"))).status).toBe(200);
    const cards = (await messagesOf(t.tokens.alice!, inbox)).filter((m) => m.kind === "crm");
    expect(cards.map((m) => m.body.objectId)).toEqual(["L-1", "L-2"]);
  });

  it("answers 409 while the tenant has no person to show an event to, and posts it on the retry once it has", async () => {
    const tenantId = uniqueId("t");
    const created = await api<TenantCreated>("POST", "/v1/tenants", { token: ADMIN, body: { id: tenantId, name: "Empty" } });
    const t: Pick<TestTenant, "apiKey"> = { apiKey: created.body.apiKey };
    const hook = await integration(t, { kind: "standard", name: "Leads" });
    expect(hook.inboxMembers).toBeNull();
    const id = "msg_no_people";
    const refused = await deliverStandard(hook, lead("L-1"), id);
    expect(refused.status).toBe(409);
    expect(JSON.parse(refused.text).error.code).toBe("conflict");
    await api("PUT", "/v1/users/dana", { token: t.apiKey, body: { name: "Dana" } });
    expect((await deliverStandard(hook, lead("L-1"), id)).status).toBe(200);
    const token = (await api<IssuedToken>("POST", "/v1/users/dana/tokens", { token: t.apiKey, body: {} })).body.token as string;
    const inbox = await inboxConversationId(tenantId, hook.id);
    expect((await messagesOf(token, inbox)).filter((m) => m.kind === "crm").map((m) => m.body.objectId)).toEqual(["L-1"]);
    const stored = await env.DB.prepare("SELECT inbox_members AS m FROM integrations WHERE id = ?").bind(hook.id).first<{ m: string }>();
    expect(JSON.parse(stored!.m)).toEqual(["dana"]);
  });
});
