import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN, api, BASE, createGroup, sendHttp, setupTenant, type TestTenant } from "./helpers";
import { fillPath, routeTable, type RouteSpec } from "./routes";
import { roomName } from "../src/protocol/ids";
import { randomHex } from "../src/lib/random";
import type { ConversationCreated, EndpointCreated, IntegrationCreated } from "./responses";

/**
 * The cross-tenant matrix, generated from the app's route table: every route x every kind of credential
 * x every kind of foreign id. For each cell the answer to the other tenant's id must equal the answer to a
 * random id that exists nowhere (API.md: across tenants the answer is 404 exactly as for an id that does
 * not exist), and afterwards nothing of the other tenant has changed.
 *
 * Two routes take no tenant credential and are outside the matrix: `/v1/hooks/:id/:token?` (the URL token
 * and the CRM's signature are the credential) and `/v1/files/:token` (a signed link is a capability
 * scoped to one attachment; its own tests cover it).
 */

/** The ids a request can name, by kind. */
interface Ids {
  group: string;
  direct: string;
  integration: string;
  endpoint: string;
  device: string;
  user: string;
  attachment: string;
  tenant: string;
}
type IdKind = keyof Ids;

/** Ids of the right shape that exist in no tenant. Fixed for the run, so an upsert of one makes it exist for both columns alike. */
const NOWHERE: Ids = {
  group: `g_${randomHex(16)}`,
  direct: `d_${randomHex(16)}`,
  integration: `int_${randomHex(16)}`,
  endpoint: `ep_${randomHex(16)}`,
  device: `dev-${randomHex(6)}`,
  user: `nobody-${randomHex(6)}`,
  attachment: `f_${randomHex(16)}`,
  tenant: `t-nowhere-${randomHex(6)}`,
};

/** Where a route takes ids, and which kinds of id each place can be given. */
function slotsOf(route: RouteSpec): IdKind[] {
  const kinds = new Set<IdKind>();
  for (const p of route.params) {
    if (p === "id" && route.path.startsWith("/v1/conversations/")) kinds.add("group").add("direct");
    if (p === "id" && route.path.startsWith("/v1/integrations/")) kinds.add("integration");
    if (p === "id" && route.path.startsWith("/v1/webhooks/")) kinds.add("endpoint");
    if (p === "id" && route.path.startsWith("/v1/devices/")) kinds.add("device");
    if (p === "userId") kinds.add("user");
    if (p === "attachmentId") kinds.add("attachment");
    if (p === "tenantId") kinds.add("tenant");
  }
  // Ids in bodies and queries.
  const bodyIds: Record<string, IdKind[]> = {
    "POST /v1/conversations": ["user"],
    "POST /v1/conversations/:id/members": ["user"],
    "POST /v1/integrations": ["group"],
    "POST /v1/webhooks": ["group"],
    "GET /v1/search/messages": ["group", "direct"],
    "GET /v1/presence": ["user"],
  };
  for (const k of bodyIds[`${route.method} ${route.path}`] ?? []) kinds.add(k);
  return [...kinds];
}

/** The request for a route with every id slot naming `ids` (the conversation slot takes `conversation`). */
function requestFor(route: RouteSpec, ids: Ids, conversation: string): { path: string; body?: unknown; query: Record<string, string> } {
  const path = fillPath(route, (p) => {
    if (p === "id") {
      if (route.path.startsWith("/v1/conversations/")) return conversation;
      if (route.path.startsWith("/v1/integrations/")) return ids.integration;
      if (route.path.startsWith("/v1/webhooks/")) return ids.endpoint;
      if (route.path.startsWith("/v1/devices/")) return ids.device;
    }
    if (p === "userId") return ids.user;
    if (p === "attachmentId") return ids.attachment;
    if (p === "tenantId") return ids.tenant;
    if (p === "seq") return "1";
    if (p === "emoji") return encodeURIComponent("👍");
    return "x";
  });
  const key = `${route.method} ${route.path}`;
  const bodies: Record<string, unknown> = {
    "POST /v1/tenants": { id: `t-matrix-${randomHex(4)}`, name: "Matrix" },
    "PUT /v1/users/:userId": { name: "Probe" },
    "POST /v1/users/:userId/tokens": {},
    "POST /v1/conversations": { type: "direct", with: ids.user },
    "POST /v1/conversations/:id/members": { userIds: [ids.user] },
    "PUT /v1/conversations/:id/members/:userId": { role: "admin" },
    "POST /v1/conversations/:id/messages": { clientId: "probe", kind: "text", body: { text: "probe" } },
    "PATCH /v1/conversations/:id/messages/:seq": { body: { text: "probe" } },
    "POST /v1/conversations/:id/messages/:seq/decision": { clientId: "probe-d", decision: "approve" },
    "POST /v1/conversations/:id/messages/:seq/actions": { action: "open" },
    "POST /v1/conversations/:id/read": { seq: 1 },
    "PUT /v1/conversations/:id/settings": { muted: true },
    "PUT /v1/tenant/settings": {},
    "POST /v1/integrations": { kind: "standard", name: "probe", conversationId: conversation },
    "POST /v1/integrations/:id/rotate": {},
    "POST /v1/webhooks": { url: "http://127.0.0.1:9/probe", events: ["message.created"], conversationIds: [conversation] },
    "POST /v1/devices": { id: `probe-${randomHex(3)}`, platform: "webhook", endpoint: "http://127.0.0.1:9/probe" },
    "POST /v1/devices/:id/test": {},
  };
  const queries: Record<string, Record<string, string>> = {
    "GET /v1/search/messages": { q: "secret", conversationId: conversation },
    "GET /v1/search/conversations": { q: "secret" },
    "GET /v1/presence": { users: ids.user },
    "GET /v1/ws": { device: "probe" },
  };
  return { path, query: queries[key] ?? {}, ...(key in bodies ? { body: bodies[key] } : {}) };
}

interface Credential {
  name: string;
  token: string | undefined;
  /** Sent as ?token= (with an upgrade where the route is a WebSocket) instead of a header. */
  inQuery?: boolean;
}

async function call(route: RouteSpec, credential: Credential, request: { path: string; body?: unknown; query: Record<string, string> }) {
  const url = new URL(`${BASE}${request.path}`);
  for (const [k, v] of Object.entries(request.query)) url.searchParams.set(k, v);
  const headers: Record<string, string> = {};
  if (credential.token !== undefined) {
    if (credential.inQuery) url.searchParams.set("token", credential.token);
    else headers.authorization = `Bearer ${credential.token}`;
  }
  if (route.path.endsWith("/ws")) headers.upgrade = "websocket";
  let body: BodyInit | undefined;
  if (route.path.endsWith("/attachments") && route.method === "POST") {
    url.searchParams.set("name", "probe.pdf");
    headers["content-type"] = "application/pdf";
    body = "%PDF-1.7\n%%EOF\n";
  } else if (request.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(request.body);
  }
  const res = await exports.default.fetch(`${BASE}${request.path}${url.search}`, { method: route.method, headers, ...(body !== undefined ? { body } : {}) });
  if (res.webSocket) {
    res.webSocket.accept();
    res.webSocket.close(1000, "probe");
    return { status: res.status, code: undefined, message: undefined };
  }
  const text = await res.text();
  let parsed: { error?: { code?: string; message?: string } } | undefined;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, code: parsed?.error?.code, message: parsed?.error?.message };
}

/** Everything of a tenant: its rows in every D1 table with a tenant column, and the tables of its conversation objects. */
async function snapshot(tenantId: string, conversations: string[]): Promise<unknown> {
  for (const id of conversations) {
    // Settle pending mirror work first, so the snapshot does not race the object's own alarm.
    await runDurableObjectAlarm(env.ROOMS.getByName(roomName(tenantId, id)));
  }
  const tables = (await env.DB.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'").all<{ name: string; sql: string }>()).results;
  const d1: Record<string, unknown[]> = {};
  for (const { name, sql } of tables) {
    if (!/\btenant_id\b/.test(sql)) continue;
    d1[name] = (await env.DB.prepare(`SELECT * FROM "${name}" WHERE tenant_id = ? ORDER BY 1, 2`).bind(tenantId).all()).results;
  }
  const rooms: Record<string, unknown> = {};
  for (const id of conversations) {
    rooms[id] = await runInDurableObject(env.ROOMS.getByName(roomName(tenantId, id)), async (_instance, state) => {
      const out: Record<string, unknown[]> = {};
      const names = state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'").toArray();
      for (const { name } of names) out[name] = state.storage.sql.exec(`SELECT * FROM "${name}"`).toArray();
      return out;
    });
  }
  return { d1, rooms };
}

interface Side {
  tenant: TestTenant;
  /** A member's token (member of `group` and `direct`), a non-member's token, the tenant key. */
  member: string;
  nonMember: string;
  ids: Ids;
}

/** A tenant with a group and a direct conversation holding messages, an attachment, an integration, an outbound endpoint and a device. */
async function side(prefix: string): Promise<Side> {
  const owner = `${prefix}-owner`;
  const peer = `${prefix}-peer`;
  const outsider = `${prefix}-outsider`;
  const tenant = await setupTenant([owner, peer, outsider]);
  const group = await createGroup(tenant.tokens[owner]!, [peer], "secret plans");
  const direct = (await api<ConversationCreated>("POST", "/v1/conversations", { token: tenant.tokens[owner]!, body: { type: "direct", with: peer } })).body.id as string;
  await sendHttp(tenant.tokens[owner]!, group, "g1", "secret one");
  await sendHttp(tenant.tokens[owner]!, direct, "d1", "secret two");
  const upload = await exports.default.fetch(`${BASE}/v1/conversations/${group}/attachments?name=plan.pdf`, {
    method: "POST",
    headers: { authorization: `Bearer ${tenant.tokens[owner]!}`, "content-type": "application/pdf" },
    body: "%PDF-1.7\n%%EOF\n",
  });
  const attachment = ((await upload.json()) as { id: string }).id;
  await api("POST", `/v1/conversations/${group}/messages`, { token: tenant.tokens[owner]!, body: { clientId: "f1", kind: "file", body: { attachment: { id: attachment, name: "plan.pdf", size: 1, contentType: "application/pdf" } } } });
  const integration = (await api<IntegrationCreated>("POST", "/v1/integrations", { token: tenant.apiKey, body: { kind: "standard", name: "crm" } })).body.id as string;
  // Subscribed to no real conversation: no delivery runs in the background while the matrix compares snapshots.
  const endpoint = (await api<EndpointCreated>("POST", "/v1/webhooks", { token: tenant.apiKey, body: { url: "http://127.0.0.1:9/crm", events: ["message.created"], conversationIds: [NOWHERE.group] } })).body.id as string;
  const device = `${prefix}-phone`;
  await api("POST", "/v1/devices", { token: tenant.tokens[owner]!, body: { id: device, platform: "webhook", endpoint: "http://127.0.0.1:9/push" } });
  for (const [what, id] of Object.entries({ direct, attachment, integration, endpoint })) expect(id, what).toBeTruthy();
  return {
    tenant,
    member: tenant.tokens[owner]!,
    nonMember: tenant.tokens[outsider]!,
    ids: { group, direct, integration, endpoint, device, user: peer, attachment, tenant: tenant.tenantId },
  };
}

const normalize = (text: string | undefined, ids: Ids[]) => {
  let out = text ?? "";
  for (const set of ids) for (const id of Object.values(set)) out = out.split(id).join("<id>");
  return out;
};

describe("the cross-tenant matrix", () => {
  it("answers every route, for every credential, the same for another tenant's ids as for ids that exist nowhere, and changes nothing of that tenant", async () => {
    const a = await side("a");
    const b = await side("b");
    // The ids that exist nowhere have exactly the shape of real ones, so no format check tells them apart.
    for (const kind of ["group", "direct", "integration", "endpoint", "attachment"] as const) {
      expect(NOWHERE[kind].length, kind).toBe(b.ids[kind].length);
      expect(NOWHERE[kind].split("_")[0], kind).toBe(b.ids[kind].split("_")[0]);
    }
    const routes = routeTable().filter((r) => !r.path.startsWith("/v1/hooks/") && !r.path.startsWith("/v1/files/"));
    expect(routes.length).toBeGreaterThan(40);

    // Each credential is aimed at the tenant it does not belong to: first at b, then (b's own credentials) at a.
    const atB: Credential[] = [
      { name: "operator", token: ADMIN },
      { name: "tenant key", token: a.tenant.apiKey },
      { name: "member token", token: a.member },
      { name: "non-member token", token: a.nonMember },
      { name: "token in the query", token: a.member, inQuery: true },
    ];
    const atA: Credential[] = [
      { name: "other tenant's key", token: b.tenant.apiKey },
      { name: "other tenant's token", token: b.member },
      { name: "other tenant's non-member token", token: b.nonMember },
    ];
    const mismatches: string[] = [];
    let compared = 0;

    async function runCells(credentials: Credential[], foreign: Side): Promise<void> {
      for (const route of routes) {
        const kinds = slotsOf(route);
        for (const credential of credentials) {
          // The operator acts on tenants by id by design; for it a tenant id is not foreign.
          if (credential.name === "operator" && kinds.includes("tenant")) continue;
          const conversationKinds = kinds.filter((k) => k === "group" || k === "direct");
          const variants: IdKind[] = conversationKinds.length > 0 ? conversationKinds : kinds.length > 0 ? [kinds[0]!] : ["group"];
          for (const kind of variants) {
            const conversation = kind === "direct" ? "direct" : "group";
            const theirs = await call(route, credential, requestFor(route, foreign.ids, foreign.ids[conversation]));
            const nowhere = await call(route, credential, requestFor(route, NOWHERE, NOWHERE[conversation]));
            compared += 1;
            const seen = (r: typeof theirs) => JSON.stringify({ status: r.status, code: r.code, message: normalize(r.message, [foreign.ids, NOWHERE]) });
            if (seen(theirs) !== seen(nowhere)) {
              mismatches.push(`${route.method} ${route.path} as ${credential.name} with their ${kind} ids: ${seen(theirs)} but nowhere ids: ${seen(nowhere)}`);
            }
            expect(theirs.status, `${route.method} ${route.path} as ${credential.name}`).toBeLessThan(500);
          }
        }
      }
    }

    const bBefore = await snapshot(b.tenant.tenantId, [b.ids.group, b.ids.direct]);
    await runCells(atB, b);
    expect(await snapshot(b.tenant.tenantId, [b.ids.group, b.ids.direct])).toEqual(bBefore);

    const aBefore = await snapshot(a.tenant.tenantId, [a.ids.group, a.ids.direct]);
    await runCells(atA, a);
    expect(await snapshot(a.tenant.tenantId, [a.ids.group, a.ids.direct])).toEqual(aBefore);

    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(routes.length * (atB.length + atA.length) - 20);
  }, 120_000);
});
