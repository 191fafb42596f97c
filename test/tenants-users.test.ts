import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, api, expectError, setupTenant, uniqueId } from "./helpers";
import type { ConversationCreated, ConversationList, IssuedToken, TenantApiKey, TenantCreated, User } from "./responses";

async function createTenant(id: string, name = `Tenant ${id}`) {
  return api<TenantCreated>("POST", "/v1/tenants", { token: ADMIN, body: { id, name } });
}

/** A request only a working api key of the tenant can make. */
async function keyWorks(apiKey: string, userId = "probe"): Promise<boolean> {
  const res = await api<User>("PUT", `/v1/users/${userId}`, { token: apiKey, body: { name: "Probe" } });
  return res.status === 200;
}

describe("tenants", () => {
  it("are created by the operator with 201 and {id, name, apiKey}", async () => {
    const id = uniqueId("t");
    const res = await createTenant(id, "Acme Corp");
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ id, name: "Acme Corp" });
    expect(typeof res.body.apiKey).toBe("string");
    expect(res.body.apiKey.length).toBeGreaterThanOrEqual(32);
  });

  it("come with an api key that works on tenant endpoints", async () => {
    const res = await createTenant(uniqueId("t"));
    expect(res.status).toBe(201);
    const put = await api<User>("PUT", "/v1/users/alice", { token: res.body.apiKey, body: { name: "Alice" } });
    expect(put.status).toBe(200);
    const list = await api<ConversationList>("GET", "/v1/conversations", { token: res.body.apiKey });
    expect(list.status).toBe(200);
  });

  it("get a different api key each", async () => {
    const a = await createTenant(uniqueId("t"));
    const b = await createTenant(uniqueId("t"));
    expect(a.body.apiKey).not.toBe(b.body.apiKey);
  });

  it("accept ids of exactly 64 characters from the allowed alphabet", async () => {
    const id = `${uniqueId("t")}_A.z-9`.padEnd(64, "x");
    expect(id).toHaveLength(64);
    const res = await createTenant(id);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.id).toBe(id);
  });

  it("are refused with 409 when the id already exists, and the original key keeps working", async () => {
    const id = uniqueId("t");
    const first = await createTenant(id, "First");
    expect(first.status).toBe(201);
    const again = await createTenant(id, "Second");
    expectError(again, 409, "conflict");
    expect(again.body.apiKey).toBeUndefined();
    expect(await keyWorks(first.body.apiKey)).toBe(true);
    const rows = await env.DB.prepare("SELECT name FROM tenants WHERE id = ?").bind(id).all<{ name: string }>();
    expect(rows.results).toEqual([{ name: "First" }]);
    const keys = await env.DB.prepare("SELECT count(*) AS n FROM api_keys WHERE tenant_id = ?").bind(id).first<{ n: number }>();
    expect(keys?.n).toBe(1);
  });

  it.each([
    ["with a space", "a b"],
    ["empty", ""],
    ["of 65 characters", "t".repeat(65)],
    ["with a slash", "x/y"],
    ["with non-ASCII letters", "t\u00e9nant"],
    ["with CJK characters", "\u79df\u6237"],
    ["with a colon", "a:b"],
    ["a number", 42],
    ["missing", undefined],
  ])("are refused with 400 naming id when the id is %s", async (_label, id) => {
    const res = await api<TenantCreated>("POST", "/v1/tenants", { token: ADMIN, body: { id, name: "Bad" } });
    expectError(res, 400, "invalid_request");
    expect(res.body.error.message).toContain("id");
    if (typeof id === "string" && id !== "") {
      const row = await env.DB.prepare("SELECT id FROM tenants WHERE id = ?").bind(id).first();
      expect(row).toBeNull();
    }
  });

  it.each([
    ["empty", ""],
    ["blank", "   "],
    ["a number", 5],
    ["missing", undefined],
  ])("are refused with 400 naming name when the name is %s", async (_label, name) => {
    const id = uniqueId("t");
    const res = await api<TenantCreated>("POST", "/v1/tenants", { token: ADMIN, body: { id, name } });
    expectError(res, 400, "invalid_request");
    expect(res.body.error.message).toContain("name");
    expect(await env.DB.prepare("SELECT id FROM tenants WHERE id = ?").bind(id).first()).toBeNull();
  });

  it("store their api key only as a hash", async () => {
    const id = uniqueId("t");
    const res = await createTenant(id);
    const apiKey: string = res.body.apiKey;
    const rows = await env.DB.prepare("SELECT * FROM api_keys WHERE tenant_id = ?").bind(id).all<Record<string, unknown>>();
    expect(rows.results).toHaveLength(1);
    const row = rows.results[0]!;
    const secretPart = apiKey.replace(/^sbk_/, "");
    for (const value of Object.values(row)) {
      expect(String(value)).not.toContain(apiKey);
      expect(String(value)).not.toContain(secretPart);
    }
    expect(String(row.key_hash)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("leave their api key in no row of any D1 table", async () => {
    const id = uniqueId("t");
    const res = await createTenant(id);
    const secretPart = String(res.body.apiKey).replace(/^sbk_/, "");
    const tables = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'd1\\_%' ESCAPE '\\'",
    ).all<{ name: string }>();
    expect(tables.results.map((t) => t.name)).toContain("api_keys");
    for (const { name } of tables.results) {
      const all = await env.DB.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}"`).all();
      expect(JSON.stringify(all.results), `table ${name}`).not.toContain(secretPart);
    }
  });

  it("can be given an extra api key by the operator, and both keys work", async () => {
    const id = uniqueId("t");
    const created = await createTenant(id);
    const extra = await api<TenantApiKey>("POST", `/v1/tenants/${id}/api-keys`, { token: ADMIN });
    expect(extra.status, JSON.stringify(extra.body)).toBe(201);
    expect(typeof extra.body.apiKey).toBe("string");
    expect(extra.body.apiKey).not.toBe(created.body.apiKey);
    expect(await keyWorks(created.body.apiKey, "u1")).toBe(true);
    expect(await keyWorks(extra.body.apiKey, "u2")).toBe(true);
    // Both keys act on the same tenant: each sees the user the other created.
    expect((await api("GET", "/v1/users/u2", { token: created.body.apiKey })).status).toBe(200);
    expect((await api("GET", "/v1/users/u1", { token: extra.body.apiKey })).status).toBe(200);
  });

  it("store an extra api key only as a hash too", async () => {
    const id = uniqueId("t");
    await createTenant(id);
    const extra = await api<TenantApiKey>("POST", `/v1/tenants/${id}/api-keys`, { token: ADMIN });
    const secretPart = String(extra.body.apiKey).replace(/^sbk_/, "");
    const rows = await env.DB.prepare("SELECT * FROM api_keys WHERE tenant_id = ?").bind(id).all();
    expect(rows.results).toHaveLength(2);
    expect(JSON.stringify(rows.results)).not.toContain(secretPart);
  });

  it("that do not exist cannot be given an api key (404)", async () => {
    const res = await api<TenantApiKey>("POST", `/v1/tenants/${uniqueId("ghost")}/api-keys`, { token: ADMIN });
    expectError(res, 404, "not_found");
    expectError(await api("POST", "/v1/tenants/x%2Fy/api-keys", { token: ADMIN }), 404, "not_found");
  });
});

describe("users", () => {
  it("are created by PUT with 200 and their profile", async () => {
    const t = await setupTenant([]);
    const res = await api<User>("PUT", "/v1/users/alice", {
      token: t.apiKey,
      body: { name: "Alice Liddell", title: "Sales", avatarUrl: "https://example.com/a.png" },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ id: "alice", name: "Alice Liddell", title: "Sales", avatarUrl: "https://example.com/a.png" });
  });

  it("are updated by a second PUT of the same id", async () => {
    const t = await setupTenant([]);
    const first = await api<User>("PUT", "/v1/users/alice", { token: t.apiKey, body: { name: "Alice", title: "Sales" } });
    expect(first.status).toBe(200);
    const second = await api<User>("PUT", "/v1/users/alice", {
      token: t.apiKey,
      body: { name: "Alice L.", title: "Head of Sales", avatarUrl: "https://example.com/alice.png" },
    });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ id: "alice", name: "Alice L.", title: "Head of Sales", avatarUrl: "https://example.com/alice.png" });
    const got = await api<User>("GET", "/v1/users/alice", { token: t.apiKey });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: "alice", name: "Alice L.", title: "Head of Sales", avatarUrl: "https://example.com/alice.png" });
    if (first.body.createdAt !== undefined) expect(got.body.createdAt).toBe(first.body.createdAt);
    const count = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE tenant_id = ? AND id = 'alice'").bind(t.tenantId).first<{ n: number }>();
    expect(count?.n).toBe(1);
  });

  it("are readable by GET with the tenant's api key", async () => {
    const t = await setupTenant([]);
    await api("PUT", "/v1/users/bob.smith_2-x", { token: t.apiKey, body: { name: "Bob" } });
    const res = await api<User>("GET", "/v1/users/bob.smith_2-x", { token: t.apiKey });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: "bob.smith_2-x", name: "Bob" });
  });

  it("are readable by GET with a user token of the same tenant", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const res = await api<User>("GET", "/v1/users/bob", { token: t.tokens.alice! });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: "bob", name: "BOB" });
  });

  it("that do not exist are 404 on GET", async () => {
    const t = await setupTenant(["alice"]);
    expectError(await api("GET", "/v1/users/nobody", { token: t.apiKey }), 404, "not_found");
    expectError(await api("GET", "/v1/users/nobody", { token: t.tokens.alice! }), 404, "not_found");
  });

  it("get tokens only when they exist (404 otherwise)", async () => {
    const t = await setupTenant(["alice"]);
    const ok = await api<IssuedToken>("POST", "/v1/users/alice/tokens", { token: t.apiKey, body: {} });
    expect(ok.status).toBe(201);
    expect(typeof ok.body.token).toBe("string");
    expect(typeof ok.body.expiresAt).toBe("number");
    const missing = await api<IssuedToken>("POST", "/v1/users/ghost/tokens", { token: t.apiKey, body: {} });
    expectError(missing, 404, "not_found");
    expect(missing.body.token).toBeUndefined();
  });

  it("get a token that acts as them", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const res = await api<ConversationCreated>("POST", "/v1/conversations", { token: t.tokens.alice!, body: { type: "group", name: "G", members: ["bob"] } });
    expect(res.status).toBe(201);
    expect(res.body.members).toEqual(["alice", "bob"]);
  });

  it.each([
    ["with a space", "a%20b"],
    ["of 65 characters", "u".repeat(65)],
    ["with non-ASCII letters", "%C3%A9mile"],
    ["with an encoded slash", "x%2Fy"],
  ])("are refused with 400 when the id is %s", async (_label, path) => {
    const t = await setupTenant([]);
    const res = await api<User>("PUT", `/v1/users/${path}`, { token: t.apiKey, body: { name: "X" } });
    expectError(res, 400, "invalid_request");
    expect(res.body.error.message).toContain("userId");
    const count = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE tenant_id = ?").bind(t.tenantId).first<{ n: number }>();
    // Only the tenant's own bot user, if the server keeps one.
    expect(count?.n ?? 0).toBeLessThanOrEqual(1);
  });

  it.each([
    ["name is missing", { title: "x" }, "name"],
    ["name is empty", { name: "" }, "name"],
    ["name is a number", { name: 5 }, "name"],
    ["title is a number", { name: "A", title: 5 }, "title"],
    ["avatarUrl is not an http(s) URL", { name: "A", avatarUrl: "javascript:alert(1)" }, "avatarUrl"],
  ])("are refused with 400 naming the field when %s", async (_label, body, field) => {
    const t = await setupTenant([]);
    const res = await api<User>("PUT", "/v1/users/alice", { token: t.apiKey, body });
    expectError(res, 400, "invalid_request");
    expect(res.body.error.message).toContain(field);
    expectError(await api("GET", "/v1/users/alice", { token: t.apiKey }), 404, "not_found");
  });
});
