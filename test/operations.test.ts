import { env } from "cloudflare:workers";
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../workers/index";
import { ADMIN, api, createGroup, expectError, join, openChannel, sendHttp, setupTenant, uniqueId } from "./helpers";
import type {
  ApiKeyCreated,
  ApiKeyList,
  AuditPage,
  EndpointCreated,
  EventsPage,
  IntegrationCreated,
  IssuedToken,
  MessagesPage,
  TenantApiKey,
  TenantSettings,
  TokensRevoked,
  UserList,
  UserSearch,
  UserStatusChange,
} from "./responses";

async function auditOf(key: string, query = ""): Promise<AuditPage["entries"]> {
  const res = await api<AuditPage>("GET", `/v1/audit${query}`, { token: key });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.entries;
}

describe("audit trail", () => {
  it("records who did what to whom, newest first, for users, tokens, keys and settings", async () => {
    const t = await setupTenant(["alice"]);
    await api("PUT", "/v1/users/alice", { token: t.apiKey, body: { name: "Alice A." } });
    await api("PUT", "/v1/tenant/settings", { token: t.apiKey, body: { editWindowSeconds: 60 } });
    const key = await api<ApiKeyCreated>("POST", "/v1/api-keys", { token: t.apiKey, body: { label: "crm sync" } });
    expect(key.status).toBe(201);
    await api("POST", "/v1/users/alice/tokens/revoke", { token: t.apiKey });
    const entries = await auditOf(t.apiKey);
    expect(entries.map((e) => [e.action, e.target])).toEqual([
      ["tokens.revoked", "alice"],
      ["api_key.created", key.body.id],
      ["settings.updated", t.tenantId],
      ["user.updated", "alice"],
      ["token.issued", "alice"],
      ["user.created", "alice"],
      ["tenant.created", t.tenantId],
    ]);
    expect(entries[0]).toMatchObject({ actor: { kind: "tenant", id: null }, tenantId: t.tenantId });
    expect(entries.at(-1)).toMatchObject({ actor: { kind: "operator" } });
    expect(entries.every((e) => typeof e.requestId === "string")).toBe(true);
    expect(JSON.stringify(entries)).not.toContain(key.body.apiKey);
    expect(JSON.stringify(entries)).not.toContain(t.apiKey);
  });

  it("pages with a cursor and filters by action and actor", async () => {
    const t = await setupTenant(["a", "b", "c"]);
    const first = await api<AuditPage>("GET", "/v1/audit?limit=2", { token: t.apiKey });
    expect(first.body.entries).toHaveLength(2);
    const second = await api<AuditPage>("GET", `/v1/audit?limit=2&cursor=${first.body.nextCursor}`, { token: t.apiKey });
    expect(second.body.entries[0]!.id).toBeLessThan(first.body.entries[1]!.id);
    expect((await auditOf(t.apiKey, "?action=user.created")).map((e) => e.target)).toEqual(["c", "b", "a"]);
    expect((await auditOf(t.apiKey, "?actor=operator")).map((e) => e.action)).toEqual(["tenant.created"]);
    expectError(await api("GET", "/v1/audit?action=nope", { token: t.apiKey }), 400, "invalid_request");
    expectError(await api("GET", "/v1/audit?limit=1000", { token: t.apiKey }), 400, "invalid_request");
    expectError(await api("GET", "/v1/audit", { token: t.tokens.a! }), 403, "forbidden");
  });

  it("shows a tenant only its own trail; the operator sees tenant creation across tenants and any one tenant's trail", async () => {
    const a = await setupTenant(["x"]);
    const b = await setupTenant(["y"]);
    const ofA = await auditOf(a.apiKey);
    expect(ofA.every((e) => e.tenantId === a.tenantId)).toBe(true);
    expectError(await api("GET", `/v1/audit?tenant=${b.tenantId}`, { token: a.apiKey }), 400, "invalid_request");
    const operator = await auditOf(ADMIN, "?limit=200");
    expect(operator.filter((e) => e.action === "tenant.created").map((e) => e.target)).toEqual(expect.arrayContaining([a.tenantId, b.tenantId]));
    expect(operator.every((e) => e.actor.kind === "operator")).toBe(true);
    expect((await auditOf(ADMIN, `?tenant=${b.tenantId}`)).map((e) => e.action)).toContain("user.created");
  });
});

describe("audit of conversations and integrations", () => {
  it("records member changes, role changes, admin recalls, integrations and endpoints, with who did them", async () => {
    const t = await setupTenant(["alice", "bob", "carol"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await api("POST", `/v1/conversations/${id}/members`, { token: t.tokens.alice!, body: { userIds: ["carol"] } });
    await api("PUT", `/v1/conversations/${id}/members/bob`, { token: t.tokens.alice!, body: { role: "admin" } });
    await sendHttp(t.tokens.carol!, id, "c1", "oops");
    const seq = (await api<MessagesPage>("GET", `/v1/conversations/${id}/messages?after=0`, { token: t.tokens.bob! })).body.messages.find((m) => m.clientId === "c1")!.seq;
    expect((await api("POST", `/v1/conversations/${id}/messages/${seq}/recall`, { token: t.tokens.bob! })).status).toBe(200);
    await api("DELETE", `/v1/conversations/${id}/members/carol`, { token: t.apiKey });
    const hook = await api<IntegrationCreated>("POST", "/v1/integrations", { token: t.apiKey, body: { kind: "standard", name: "Pipeline", conversationId: id } });
    await api("POST", `/v1/integrations/${hook.body.id}/rotate`, { token: t.apiKey });
    await api("DELETE", `/v1/integrations/${hook.body.id}`, { token: t.apiKey });
    const endpoint = await api<EndpointCreated>("POST", "/v1/webhooks", { token: t.apiKey, body: { url: "http://127.0.0.1:9/events", events: ["message.created"] } });
    await api("DELETE", `/v1/webhooks/${endpoint.body.id}`, { token: t.apiKey });
    const entries = await auditOf(t.apiKey, "?limit=12");
    expect(entries.map((e) => [e.action, e.actor.kind === "user" ? e.actor.id : e.actor.kind])).toEqual([
      ["endpoint.deleted", "tenant"],
      ["endpoint.created", "tenant"],
      ["integration.deleted", "tenant"],
      ["integration.rotated", "tenant"],
      ["integration.created", "tenant"],
      ["member.removed", "tenant"],
      ["message.recalled_by_admin", "bob"],
      ["member.role_changed", "alice"],
      ["member.added", "alice"],
      ["conversation.created", "alice"],
      ["token.issued", "tenant"],
      ["user.created", "tenant"],
    ]);
    expect(JSON.stringify(entries)).not.toContain(hook.body.secret);
    expect(JSON.stringify(entries)).not.toContain(endpoint.body.secret);
  });
});

describe("api keys", () => {
  it("lists keys without secrets, adds one for rotation, revokes the old one at once", async () => {
    const t = await setupTenant([]);
    const listed = await api<ApiKeyList>("GET", "/v1/api-keys", { token: t.apiKey });
    expect(listed.body.apiKeys).toHaveLength(1);
    const original = listed.body.apiKeys[0]!;
    expect(Object.keys(original).sort()).toEqual(["createdAt", "expiresAt", "id", "label"]);
    const added = await api<ApiKeyCreated>("POST", "/v1/api-keys", { token: t.apiKey, body: { label: "rotation" } });
    expect(added.status).toBe(201);
    expect(added.body.apiKey).toMatch(/^sbk_/);
    expect((await api("DELETE", `/v1/api-keys/${original.id}`, { token: added.body.apiKey })).status).toBe(204);
    expectError(await api("GET", "/v1/api-keys", { token: t.apiKey }), 401, "unauthorized");
    expect((await api<ApiKeyList>("GET", "/v1/api-keys", { token: added.body.apiKey })).body.apiKeys.map((k) => k.id)).toEqual([added.body.id]);
  });

  it("refuses to revoke the last working key, and unknown or foreign key ids are 404", async () => {
    const t = await setupTenant([]);
    const other = await setupTenant([]);
    const only = (await api<ApiKeyList>("GET", "/v1/api-keys", { token: t.apiKey })).body.apiKeys[0]!;
    expectError(await api("DELETE", `/v1/api-keys/${only.id}`, { token: t.apiKey }), 409, "conflict");
    expectError(await api("DELETE", `/v1/api-keys/${only.id}`, { token: other.apiKey }), 404, "not_found");
    expectError(await api("DELETE", "/v1/api-keys/key_0000000000000000", { token: t.apiKey }), 404, "not_found");
    expectError(await api("DELETE", "/v1/api-keys/whatever", { token: t.apiKey }), 404, "not_found");
    expect((await api("GET", "/v1/api-keys", { token: t.apiKey })).status).toBe(200);
  });

  it("gives keys an optional lifetime, validated", async () => {
    const t = await setupTenant([]);
    const res = await api<ApiKeyCreated>("POST", "/v1/api-keys", { token: t.apiKey, body: { expiresInSeconds: 3600 } });
    expect(res.body.expiresAt).toBeGreaterThan(Date.now() + 3500_000);
    expectError(await api("POST", "/v1/api-keys", { token: t.apiKey, body: { expiresInSeconds: 1 } }), 400, "invalid_request");
    const operatorIssued = await api<TenantApiKey>("POST", `/v1/tenants/${t.tenantId}/api-keys`, { token: ADMIN, body: { label: "from ops" } });
    expect(operatorIssued.status).toBe(201);
    expect(operatorIssued.body).toMatchObject({ tenantId: t.tenantId, label: "from ops", expiresAt: null });
  });
});

describe("people administration", () => {
  it("lists and searches people by name or id, a page at a time", async () => {
    const t = await setupTenant(["ann", "bea", "cal"]);
    await api("PUT", "/v1/users/cal", { token: t.apiKey, body: { name: "Calvin Klein" } });
    const page = await api<UserList>("GET", "/v1/users?limit=2", { token: t.apiKey });
    expect(page.body.users.map((u: { id: string }) => u.id)).toEqual(["ann", "bea"]);
    const rest = await api<UserList>("GET", `/v1/users?limit=2&cursor=${page.body.nextCursor}`, { token: t.apiKey });
    expect(rest.body.users.map((u: { id: string }) => u.id)).toEqual(["bot", "cal"]);
    expect(rest.body.nextCursor).toBeNull();
    expect((await api<UserList>("GET", "/v1/users?q=klein", { token: t.apiKey })).body.users.map((u: { id: string }) => u.id)).toEqual(["cal"]);
    // Members find colleagues (never the bot, never another tenant's people).
    const found = await api<UserSearch>("GET", "/v1/users/search?q=a", { token: t.tokens.bea! });
    expect(found.body.users.map((u: { id: string }) => u.id)).toEqual(["ann", "bea", "cal"]);
    expect((await api<UserSearch>("GET", "/v1/users/search?q=%25", { token: t.tokens.bea! })).body.users).toEqual([]);
    expectError(await api("GET", "/v1/users/search", { token: t.tokens.bea! }), 400, "invalid_request");
    expectError(await api("GET", "/v1/users", { token: t.tokens.bea! }), 403, "forbidden");
    // The longest query allowed is searched, not refused by the database (D1 caps LIKE patterns at 50 bytes).
    const longest = `${"客".repeat(99)}%`;
    const long = await api<UserSearch>("GET", `/v1/users/search?q=${encodeURIComponent(longest)}`, { token: t.tokens.bea! });
    expect(long.status).toBe(200);
    expect(long.body.users).toEqual([]);
    await api("PUT", "/v1/users/cal", { token: t.apiKey, body: { name: longest } });
    expect((await api<UserList>("GET", `/v1/users?q=${encodeURIComponent(longest)}`, { token: t.apiKey })).body.users.map((u: { id: string }) => u.id)).toEqual(["cal"]);
  });

  it("revokes a user's tokens everywhere at once, open sockets and device channels included", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const socket = await join(id, t.tokens.bob!);
    const channel = await openChannel(t.tokens.bob!, "phone");
    const res = await api<TokensRevoked>("POST", "/v1/users/bob/tokens/revoke", { token: t.apiKey });
    expect(res.status).toBe(200);
    expect((await socket.socket.waitClosed()).code).toBe(4401);
    expect((await channel.waitClosed()).code).toBe(4401);
    expectError(await api("GET", "/v1/conversations", { token: t.tokens.bob! }), 401, "unauthorized");
    const fresh = await api<IssuedToken>("POST", "/v1/users/bob/tokens", { token: t.apiKey, body: {} });
    expect((await api("GET", "/v1/conversations", { token: fresh.body.token })).status).toBe(200);
    // Bob is still a member: revocation signs out, it does not remove.
    expect((await api("GET", `/v1/conversations/${id}`, { token: fresh.body.token })).status).toBe(200);
  });

  it("deactivates a person: signed out, removed from groups with system messages, past messages kept", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.bob!, id, "b1", "my last words");
    const socket = await join(id, t.tokens.bob!);
    const res = await api("DELETE", "/v1/users/bob", { token: t.apiKey });
    expect(res.body).toMatchObject({ id: "bob", active: false, conversations: 1 });
    expect((await socket.socket.waitClosed()).code).toBeGreaterThanOrEqual(4401);
    expectError(await api("GET", "/v1/conversations", { token: t.tokens.bob! }), 401, "unauthorized");
    expectError(await api("POST", "/v1/users/bob/tokens", { token: t.apiKey, body: {} }), 403, "forbidden");
    expectError(await api("POST", `/v1/conversations/${id}/members`, { token: t.tokens.alice!, body: { userIds: ["bob"] } }), 400, "invalid_request");
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages?after=0`, { token: t.tokens.alice! });
    expect(history.body.messages.find((m: { clientId: string }) => m.clientId === "b1")).toMatchObject({ sender: "bob", body: { text: "my last words" } });
    expect(history.body.messages.at(-1)).toMatchObject({ kind: "system", body: { event: "member_left", userIds: ["bob"] } });
    const listed = await api<UserList>("GET", "/v1/users?q=bob", { token: t.apiKey });
    expect(listed.body.users[0]).toMatchObject({ id: "bob", active: false });
    expect((await api<UserSearch>("GET", "/v1/users/search?q=bob", { token: t.tokens.alice! })).body.users).toEqual([]);
    // Repeating is harmless; reactivating lets them sign in again with a new token.
    expect((await api("DELETE", "/v1/users/bob", { token: t.apiKey })).status).toBe(200);
    expect((await api<UserStatusChange>("POST", "/v1/users/bob/reactivate", { token: t.apiKey })).body).toEqual({ id: "bob", active: true });
    const token = await api<IssuedToken>("POST", "/v1/users/bob/tokens", { token: t.apiKey, body: {} });
    expect((await api("GET", "/v1/conversations", { token: token.body.token })).status).toBe(200);
    expect((await auditOf(t.apiKey, "?action=user.deactivated")).map((e) => e.target)).toEqual(["bob"]);
  });

  it("answers 404 for unknown and foreign users and refuses the bot", async () => {
    const t = await setupTenant(["alice"]);
    const other = await setupTenant(["zed"]);
    expectError(await api("DELETE", "/v1/users/zed", { token: t.apiKey }), 404, "not_found");
    expectError(await api("POST", "/v1/users/zed/tokens/revoke", { token: t.apiKey }), 404, "not_found");
    expectError(await api("DELETE", `/v1/users/${uniqueId("nobody")}`, { token: t.apiKey }), 404, "not_found");
    expectError(await api("DELETE", "/v1/users/bot", { token: t.apiKey }), 400, "invalid_request");
    expect((await api("GET", "/v1/conversations", { token: other.tokens.zed! })).status).toBe(200);
  });
});

describe("reporting events", () => {
  async function runCron(at = Date.now()) {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: at, cron: "17 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
  }

  it("lets a tenant read its own events after a cursor, by type, and no other tenant's", async () => {
    const t = await setupTenant(["alice"]);
    const other = await setupTenant(["zed"]);
    await api("PUT", "/v1/tenant/settings", { token: t.apiKey, body: { retentionDays: 30 } });
    await api("PUT", "/v1/tenant/settings", { token: other.apiKey, body: { retentionDays: 30 } });
    await runCron();
    const mine = await api<EventsPage>("GET", "/v1/events?type=retention.run", { token: t.apiKey });
    expect(mine.status).toBe(200);
    expect(mine.body.events).toHaveLength(1);
    expect(mine.body.events[0]).toMatchObject({ type: "retention.run", data: { historyRowsDeleted: 0 } });
    expect(JSON.stringify(mine.body)).not.toContain(other.tenantId);
    const after = await api<EventsPage>("GET", `/v1/events?after=${mine.body.nextCursor}`, { token: t.apiKey });
    expect(after.body).toEqual({ events: [], nextCursor: mine.body.nextCursor });
    expectError(await api("GET", "/v1/events?type=secrets", { token: t.apiKey }), 400, "invalid_request");
    expectError(await api("GET", "/v1/events", { token: t.tokens.alice! }), 403, "forbidden");
  });

  it("forgets events older than the tenant's event retention, which the tenant sets", async () => {
    const t = await setupTenant([]);
    expectError(await api("PUT", "/v1/tenant/settings", { token: t.apiKey, body: { eventRetentionDays: 0 } }), 400, "invalid_request");
    expect((await api<TenantSettings>("PUT", "/v1/tenant/settings", { token: t.apiKey, body: { eventRetentionDays: 3 } })).body).toMatchObject({ eventRetentionDays: 3 });
    await env.DB.prepare("INSERT INTO events (tenant_id, ts, type, data) VALUES (?1, ?2, 'retention.run', '{}')").bind(t.tenantId, Date.now() - 4 * 86_400_000).run();
    await env.DB.prepare("INSERT INTO events (tenant_id, ts, type, data) VALUES (?1, ?2, 'retention.run', '{}'), (?1, ?3, 'retention.run', '{}')")
      .bind(t.tenantId, Date.now() - 8 * 86_400_000, Date.now() - 86_400_000)
      .run();
    await runCron();
    const left = await api<EventsPage>("GET", "/v1/events", { token: t.apiKey });
    expect(left.body.events.map((e: { ts: number }) => Math.round((Date.now() - e.ts) / 86_400_000))).toEqual([1]);
  });
});
