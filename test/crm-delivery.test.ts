import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, createGroup, expectError, setupTenant, type TestTenant } from "./helpers";
import { lead, signedDelivery } from "./crm-fixtures";
import { inboxConversationId } from "../src/crm/inbox";
import { DELIVERY_CLAIM_LEASE_MS } from "../src/storage/integrations";
import type { IntegrationCreated, IntegrationDeliveries, MessagesPage } from "./responses";

type Msg = { seq: number; kind: string; sender: string; body: Record<string, unknown> };
const messagesOf = async (token: string, id: string) => (await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token })).body.messages as Msg[];
const cardsOf = async (token: string, id: string) => (await messagesOf(token, id)).filter((m) => m.kind === "crm");

async function integration(t: TestTenant, body: Record<string, unknown>) {
  const res = await api<IntegrationCreated>("POST", "/v1/integrations", { token: t.apiKey, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; url: string; secret: string };
}

const deliveryLog = async (t: TestTenant, id: string) => (await api<IntegrationDeliveries>("GET", `/v1/integrations/${id}/deliveries`, { token: t.apiKey })).body.deliveries as Record<string, unknown>[];

async function groupsOf(tenantId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM conversations WHERE tenant_id = ? AND type = 'group'").bind(tenantId).first<{ n: number }>();
  return row?.n ?? 0;
}

describe("CRM delivery replay protection", () => {
  it("posts six identical signed deliveries arriving at once exactly once, into one inbox", async () => {
    const t = await setupTenant(["alice"]);
    const hook = await integration(t, { kind: "standard", name: "Leads" });
    const send = await signedDelivery(hook, lead("L-1", "ghost"));
    const answers = await Promise.all(Array.from({ length: 6 }, () => send()));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(await groupsOf(t.tenantId)).toBe(1);
    const inbox = await inboxConversationId(t.tenantId, hook.id);
    expect((await cardsOf(t.tokens.alice!, inbox)).map((m) => m.body.objectId)).toEqual(["L-1"]);
  });

  it("creates one inbox when different deliveries need it at the same moment", async () => {
    const t = await setupTenant(["alice"]);
    const hook = await integration(t, { kind: "standard", name: "Leads" });
    const sends = await Promise.all(Array.from({ length: 6 }, (_, i) => signedDelivery(hook, lead(`L-${i}`))));
    const answers = await Promise.all(sends.map((send) => send()));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(await groupsOf(t.tenantId)).toBe(1);
    const inbox = await inboxConversationId(t.tenantId, hook.id);
    expect((await cardsOf(t.tokens.alice!, inbox)).map((m) => m.body.objectId).sort()).toEqual(["L-0", "L-1", "L-2", "L-3", "L-4", "L-5"]);
  });

  it("retries a delivery whose claim was never completed once the lease has run out, and not before", async () => {
    const t = await setupTenant(["alice"]);
    const room = await createGroup(t.tokens.alice!, [], "Leads");
    const hook = await integration(t, { kind: "standard", name: "Leads", conversationId: room });
    const claim = (id: string, at: number) =>
      env.DB.prepare("INSERT INTO webhook_deliveries (integration_id, delivery_id, received_at, state) VALUES (?, ?, ?, 'claimed')").bind(hook.id, id, at).run();
    await claim("msg_in_flight", Date.now());
    await claim("msg_abandoned", Date.now() - DELIVERY_CLAIM_LEASE_MS - 1000);
    expect((await (await signedDelivery(hook, lead("L-1"), "msg_in_flight"))()).status).toBe(200);
    expect((await (await signedDelivery(hook, lead("L-2"), "msg_abandoned"))()).status).toBe(200);
    expect((await cardsOf(t.tokens.alice!, room)).map((m) => m.body.objectId)).toEqual(["L-2"]);
  });
});

describe("a delivery routed to a conversation the bot has left", () => {
  it("is posted: the bot joins again with a system message, and the delivery log says so", async () => {
    const t = await setupTenant(["alice"]);
    const room = await createGroup(t.apiKey, ["alice"], "Deals");
    const hook = await integration(t, { kind: "standard", name: "Deals", conversationId: room });
    expect((await (await signedDelivery(hook, lead("L-1")))()).status).toBe(200);
    expect((await api("DELETE", `/v1/conversations/${room}/members/bot`, { token: t.apiKey })).status).toBe(204);
    const send = await signedDelivery(hook, lead("L-2"), "msg_after_leaving");
    expect((await send()).status).toBe(200);
    expect((await send()).status).toBe(200);
    const log = (await messagesOf(t.tokens.alice!, room)).map((m) => (m.kind === "crm" ? `card ${m.body.objectId}` : `${m.body.event} ${String(m.body.userIds)}`));
    expect(log).toEqual(["card L-1", "member_left bot", "owner_changed alice", "members_added bot", "card L-2"]);
    const entry = (await deliveryLog(t, hook.id)).find((d) => d.deliveryId === "msg_after_leaving");
    expect(entry).toMatchObject({ state: "done", outcome: "rejoined", conversationId: room, seq: 5 });
  });

  it("lists every delivery in the integration's log, to its own tenant only", async () => {
    const t = await setupTenant(["alice"]);
    const hook = await integration(t, { kind: "standard", name: "Leads", inboxMembers: ["alice"] });
    await (await signedDelivery(hook, lead("L-1", "alice"), "msg_owned"))();
    await (await signedDelivery(hook, lead("L-2", "ghost"), "msg_unowned"))();
    const log = await deliveryLog(t, hook.id);
    const byId = Object.fromEntries(log.map((d) => [d.deliveryId, d]));
    expect(byId.msg_owned).toMatchObject({ outcome: "posted", seq: 1, detail: null });
    expect(byId.msg_unowned).toMatchObject({ outcome: "inbox", conversationId: await inboxConversationId(t.tenantId, hook.id), detail: "owner ghost is not a person of the tenant" });
    const other = await setupTenant(["bob"]);
    expectError(await api("GET", `/v1/integrations/${hook.id}/deliveries`, { token: other.apiKey }), 404, "not_found");
  });
});

describe("Salesforce: a bad body is 400, only a bad credential is 401", () => {
  const envelope = (org: string) => `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">
  <OrganizationId>${org}</OrganizationId>
  <Notification><Id>04l5g00000DDDDdAAP</Id>
   <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>00Q5g00000AbCdEEAV</sf:Id><sf:Company>ACME</sf:Company></sObject>
  </Notification>
 </notifications></soapenv:Body></soapenv:Envelope>`;

  it("answers 400 for a DOCTYPE or broken XML under a valid URL token, pinned org or not", async () => {
    const t = await setupTenant(["alice"]);
    const room = await createGroup(t.tokens.alice!, [], "SF");
    for (const organizationId of [undefined, "00D5g000004XyZaEAK"]) {
      const hook = await integration(t, { kind: "salesforce", name: "SF", conversationId: room, ...(organizationId ? { organizationId } : {}) });
      const post = async (url: string, body: string) => {
        const res = await exports.default.fetch(url, { method: "POST", headers: { "content-type": "text/xml" }, body });
        return { status: res.status, text: await res.text() };
      };
      for (const body of [`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "a">]><x>&a;</x>`, "<soapenv:Envelope><broken>", "not xml"]) {
        const res = await post(hook.url, body);
        expect(res.status, `${organizationId} ${body}`).toBe(400);
        expect(res.text).toContain("<faultcode>soapenv:Client</faultcode>");
      }
      expect((await post(hook.url.replace(hook.secret, "f".repeat(48)), envelope("00D5g000004XyZaEAK"))).status).toBe(401);
      if (organizationId) expect((await post(hook.url, envelope("00D5g000009XyZaEAK"))).status).toBe(401);
    }
    expect(await cardsOf(t.tokens.alice!, room)).toEqual([]);
  });
});
