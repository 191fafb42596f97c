import { env, exports } from "cloudflare:workers";
import { decode, sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { ADMIN, api, BASE, connect, createGroup, expectError, setupTenant, uniqueId, type ApiResponse } from "./helpers";
import type { Conversation, ConversationCreated, ConversationList, ErrorBody, IssuedToken, TenantApiKey, TenantCreated, User } from "./responses";

/** The API.md error envelope, with nothing else in it and no trace of the server's internals. */
function expectCleanError(res: ApiResponse, status: number, code: string): asserts res is ApiResponse<ErrorBody> {
  expectError(res, status, code);
  expect(Object.keys(res.body)).toEqual(["error"]);
  for (const key of Object.keys(res.body.error)) expect(["code", "message", "requestId"]).toContain(key);
  expect(res.body.error.message.length).toBeGreaterThan(0);
  expectNoStackTrace(JSON.stringify(res.body));
}

function expectNoStackTrace(text: string): void {
  expect(text).not.toMatch(/\n\s*at\s|\bat\s+\S+\s+\(|\.(ts|js|mjs):\d+|\bstack\b|node_modules|Error:/i);
}

const now = () => Math.floor(Date.now() / 1000);

/** A JWT shaped like the server's user tokens, with any claims and key. */
function userJwt(claims: Record<string, unknown>, key = env.TOKEN_SIGNING_KEY, alg: "HS256" | "HS512" = "HS256"): Promise<string> {
  return sign({ iss: "switchboard", iat: now(), exp: now() + 3600, ...claims } as Parameters<typeof sign>[0], key, alg);
}

function base64url(text: string): string {
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

describe("requests without a usable credential", () => {
  it("are refused with 401 unauthorized when there is no Authorization header", async () => {
    expectCleanError(await api<ConversationList>("GET", "/v1/conversations"), 401, "unauthorized");
    expectCleanError(await api<TenantCreated>("POST", "/v1/tenants", { body: { id: uniqueId("t"), name: "x" } }), 401, "unauthorized");
    expectCleanError(await api<User>("PUT", "/v1/users/alice", { body: { name: "A" } }), 401, "unauthorized");
  });

  it.each([
    ["a Basic scheme", "Basic dXNlcjpwYXNz"],
    ["a bare Bearer with nothing after it", "Bearer"],
    ["Bearer followed only by spaces", "Bearer    "],
    ["an empty header", ""],
    ["a credential with a space inside", "Bearer abc def"],
    ["a non-ASCII credential", "Bearer caf\u00e9-t\u00f6ken"],
    ["a credential longer than 4096 characters", `Bearer ${"x".repeat(4097)}`],
    ["an unknown scheme", "Token abc"],
  ])("are refused with 401 when the Authorization header is malformed: %s", async (_label, header) => {
    const res = await api<ConversationList>("GET", "/v1/conversations", { headers: { authorization: header } });
    expectCleanError(res, 401, "unauthorized");
  });

  it("are refused with 401 when the api key is unknown", async () => {
    const res = await api<ConversationList>("GET", "/v1/conversations", { token: `sbk_${"A".repeat(43)}` });
    expectCleanError(res, 401, "unauthorized");
    expectCleanError(await api<User>("PUT", "/v1/users/alice", { token: "sbk_nope", body: { name: "A" } }), 401, "unauthorized");
  });

  it("are refused with 401 when a user token is signed with another key", async () => {
    const t = await setupTenant(["alice"]);
    const forged = await userJwt({ sub: "alice", tid: t.tenantId }, "not-the-server-signing-key-0123456789");
    expectCleanError(await api<ConversationList>("GET", "/v1/conversations", { token: forged }), 401, "unauthorized");
  });

  it("are refused with 401 when a user token has expired", async () => {
    const t = await setupTenant(["alice"]);
    const expired = await userJwt({ sub: "alice", tid: t.tenantId, iat: now() - 7200, exp: now() - 60 });
    expectCleanError(await api<ConversationList>("GET", "/v1/conversations", { token: expired }), 401, "unauthorized");
  });

  it("are refused with 401 when a user token names another issuer", async () => {
    const t = await setupTenant(["alice"]);
    const token = await userJwt({ sub: "alice", tid: t.tenantId, iss: "someone-else" });
    expectCleanError(await api<ConversationList>("GET", "/v1/conversations", { token }), 401, "unauthorized");
  });

  it("are refused with 401 when a user token has no issuer", async () => {
    const t = await setupTenant(["alice"]);
    const token = await sign({ sub: "alice", tid: t.tenantId, iat: now(), exp: now() + 3600 }, env.TOKEN_SIGNING_KEY, "HS256");
    expectCleanError(await api<ConversationList>("GET", "/v1/conversations", { token }), 401, "unauthorized");
  });

  it("are refused with 401 when a user token has no expiry", async () => {
    const t = await setupTenant(["alice"]);
    const token = await sign({ iss: "switchboard", sub: "alice", tid: t.tenantId, iat: now() }, env.TOKEN_SIGNING_KEY, "HS256");
    expectCleanError(await api<ConversationList>("GET", "/v1/conversations", { token }), 401, "unauthorized");
  });

  it.each([
    ["a user id with a space", { sub: "a b" }],
    ["a user id with a slash", { sub: "x/y" }],
    ["an empty user id", { sub: "" }],
    ["a user id of 65 characters", { sub: "u".repeat(65) }],
    ["a numeric user id", { sub: 42 }],
    ["a missing user id", { sub: undefined }],
    ["a tenant id with a slash", { tid: "x/y" }],
    ["a non-ASCII tenant id", { tid: "t\u00e9nant" }],
    ["a missing tenant id", { tid: undefined }],
  ])("are refused with 401 when a correctly signed user token carries %s", async (_label, override) => {
    const t = await setupTenant(["alice"]);
    const claims: Record<string, unknown> = { sub: "alice", tid: t.tenantId, ...override };
    for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
    const token = await userJwt(claims);
    expectCleanError(await api<ConversationList>("GET", "/v1/conversations", { token }), 401, "unauthorized");
  });

  it("are refused with 401 when a user token is signed with another algorithm than HS256", async () => {
    const t = await setupTenant(["alice"]);
    const token = await userJwt({ sub: "alice", tid: t.tenantId }, env.TOKEN_SIGNING_KEY, "HS512");
    expectCleanError(await api<ConversationList>("GET", "/v1/conversations", { token }), 401, "unauthorized");
  });

  it("are refused with 401 when a user token is unsigned (alg none)", async () => {
    const t = await setupTenant(["alice"]);
    const header = base64url(JSON.stringify({ alg: "none", typ: "JWT" }));
    const payload = base64url(JSON.stringify({ iss: "switchboard", sub: "alice", tid: t.tenantId, iat: now(), exp: now() + 3600 }));
    expectCleanError(await api<ConversationList>("GET", "/v1/conversations", { token: `${header}.${payload}.` }), 401, "unauthorized");
  });

  it("are refused with 401 when a user token has been tampered with", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const [header, , signature] = t.tokens.alice!.split(".");
    const payload = base64url(JSON.stringify({ iss: "switchboard", sub: "bob", tid: t.tenantId, iat: now(), exp: now() + 3600 }));
    expectCleanError(await api<ConversationList>("GET", "/v1/conversations", { token: `${header}.${payload}.${signature}` }), 401, "unauthorized");
  });

  it("are refused with 401 when the credential is garbage shaped like a JWT", async () => {
    expectCleanError(await api<ConversationList>("GET", "/v1/conversations", { token: "a.b.c" }), 401, "unauthorized");
    expectCleanError(await api<ConversationList>("GET", "/v1/conversations", { token: "...." }), 401, "unauthorized");
  });

  it("are refused with 401 when the operator token is wrong", async () => {
    const body = { id: uniqueId("t"), name: "Nope" };
    expectCleanError(await api<TenantCreated>("POST", "/v1/tenants", { token: `${ADMIN}x`, body }), 401, "unauthorized");
    expectCleanError(await api<TenantCreated>("POST", "/v1/tenants", { token: "wrong-admin-token", body }), 401, "unauthorized");
    expectCleanError(await api<TenantCreated>("POST", "/v1/tenants", { token: ADMIN.slice(0, -1), body }), 401, "unauthorized");
    // Nothing was created: the same id is still free for the real operator.
    expect((await api("POST", "/v1/tenants", { token: ADMIN, body })).status).toBe(201);
  });
});

describe("a valid credential of the wrong kind", () => {
  it("is forbidden (403) when a user token tries to create a tenant", async () => {
    const t = await setupTenant(["alice"]);
    const res = await api<TenantCreated>("POST", "/v1/tenants", { token: t.tokens.alice!, body: { id: uniqueId("t"), name: "x" } });
    expectCleanError(res, 403, "forbidden");
  });

  it("is forbidden (403) when a user token tries to upsert a user", async () => {
    const t = await setupTenant(["alice"]);
    const res = await api<User>("PUT", "/v1/users/x", { token: t.tokens.alice!, body: { name: "X" } });
    expectCleanError(res, 403, "forbidden");
    expectError(await api("GET", "/v1/users/x", { token: t.apiKey }), 404, "not_found");
  });

  it("is forbidden (403) when a user token tries to issue user tokens", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const res = await api<IssuedToken>("POST", "/v1/users/bob/tokens", { token: t.tokens.alice!, body: {} });
    expectCleanError(res, 403, "forbidden");
  });

  it("is forbidden (403) when a tenant api key tries to create a tenant", async () => {
    const t = await setupTenant([]);
    const res = await api<TenantCreated>("POST", "/v1/tenants", { token: t.apiKey, body: { id: uniqueId("t"), name: "x" } });
    expectCleanError(res, 403, "forbidden");
  });

  it("is forbidden (403) when a tenant api key tries to mint api keys", async () => {
    const t = await setupTenant([]);
    const res = await api<TenantApiKey>("POST", `/v1/tenants/${t.tenantId}/api-keys`, { token: t.apiKey });
    expectCleanError(res, 403, "forbidden");
  });

  it("is forbidden (403) when the operator token is used on conversations", async () => {
    expectCleanError(await api<ConversationList>("GET", "/v1/conversations", { token: ADMIN }), 403, "forbidden");
    const post = await api<ConversationCreated>("POST", "/v1/conversations", { token: ADMIN, body: { type: "group", name: "ops", members: [] } });
    expectCleanError(post, 403, "forbidden");
  });

  it("is forbidden (403) when the operator token is used on users", async () => {
    expectCleanError(await api<User>("PUT", "/v1/users/alice", { token: ADMIN, body: { name: "A" } }), 403, "forbidden");
    expectCleanError(await api<User>("GET", "/v1/users/alice", { token: ADMIN }), 403, "forbidden");
  });
});

describe("WebSocket upgrades", () => {
  async function upgrade(conversationId: string, query: string) {
    const response = await exports.default.fetch(`${BASE}/v1/conversations/${conversationId}/ws${query}`, {
      headers: { Upgrade: "websocket" },
    });
    const text = await response.text();
    return { response, body: text ? JSON.parse(text) : null, text };
  }

  it("are refused with 401 before upgrading when there is no token", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const { response, body, text } = await upgrade(id, "");
    expect(response.status).toBe(401);
    expect(response.webSocket).toBeNull();
    expect(body.error.code).toBe("unauthorized");
    expectNoStackTrace(text);
  });

  it("are refused with 401 before upgrading when the token is forged", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const forged = await userJwt({ sub: "alice", tid: t.tenantId }, "another-key-entirely-0123456789abcdef");
    const { socket, response } = await connect(id, forged);
    socket?.close();
    expect(socket).toBeUndefined();
    expect(response.status).toBe(401);
    expect(response.webSocket).toBeNull();
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
  });

  it("are refused with 401 before upgrading when the token has expired", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const expired = await userJwt({ sub: "alice", tid: t.tenantId, iat: now() - 7200, exp: now() - 1 });
    const { socket, response } = await connect(id, expired);
    socket?.close();
    expect(response.status).toBe(401);
    expect(response.webSocket).toBeNull();
  });

  it("are refused with 401 before upgrading when the token is garbage", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const { socket, response } = await connect(id, "not a token at all");
    socket?.close();
    expect(response.status).toBe(401);
    expect(response.webSocket).toBeNull();
  });

  it("are refused before upgrading when the operator token is used: 401 in the URL, 403 in the header", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const { socket, response } = await connect(id, ADMIN);
    socket?.close();
    expect(response.status).toBe(401);
    expect(response.webSocket).toBeNull();
    const withHeader = await exports.default.fetch(`${BASE}/v1/conversations/${id}/ws`, {
      headers: { Upgrade: "websocket", authorization: `Bearer ${ADMIN}` },
    });
    expect(withHeader.status).toBe(403);
    expect(withHeader.webSocket).toBeNull();
  });
});

describe("user tokens", () => {
  it("issued with ttlSeconds work and expire ttlSeconds from now", async () => {
    const t = await setupTenant(["alice"]);
    const before = Date.now();
    const res = await api<IssuedToken>("POST", "/v1/users/alice/tokens", { token: t.apiKey, body: { ttlSeconds: 120 } });
    const after = Date.now();
    expect(res.status).toBe(201);
    expect(typeof res.body.token).toBe("string");
    expect(Number.isInteger(res.body.expiresAt)).toBe(true);
    expect(res.body.expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 120_000);
    expect(res.body.expiresAt).toBeLessThanOrEqual(after + 120_000);
    expect(decode(res.body.token).payload.exp).toBe(res.body.expiresAt / 1000);
    const list = await api<ConversationList>("GET", "/v1/conversations", { token: res.body.token });
    expect(list.status).toBe(200);
    expect(list.body.conversations).toEqual([]);
  });

  it("issued without ttlSeconds last the configured default of a day", async () => {
    const t = await setupTenant(["alice"]);
    const before = Date.now();
    const res = await api<IssuedToken>("POST", "/v1/users/alice/tokens", { token: t.apiKey, body: {} });
    expect(res.status).toBe(201);
    expect(res.body.expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 86_400_000);
    expect(res.body.expiresAt).toBeLessThanOrEqual(Date.now() + 86_400_000);
  });

  it.each([
    ["below the minimum", 59],
    ["zero", 0],
    ["negative", -60],
    ["above thirty days", 30 * 24 * 3600 + 1],
    ["not an integer", 90.5],
    ["a string", "120"],
    ["null", null],
  ])("are refused with 400 when ttlSeconds is %s", async (_label, ttlSeconds) => {
    const t = await setupTenant(["alice"]);
    const res = await api("POST", "/v1/users/alice/tokens", { token: t.apiKey, body: { ttlSeconds } });
    expectCleanError(res, 400, "invalid_request");
    expect(res.body.error.message).toContain("ttlSeconds");
  });

  it("accept ttlSeconds at both ends of the allowed range", async () => {
    const t = await setupTenant(["alice"]);
    for (const ttlSeconds of [60, 30 * 24 * 3600]) {
      const res = await api<IssuedToken>("POST", "/v1/users/alice/tokens", { token: t.apiKey, body: { ttlSeconds } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect((await api("GET", "/v1/conversations", { token: res.body.token })).status).toBe(200);
    }
  });

  it("act as their user in their own tenant only", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const view = await api<Conversation>("GET", `/v1/conversations/${id}`, { token: t.tokens.bob! });
    expect(view.status).toBe(200);
    expect(view.body.members).toEqual(["alice", "bob"]);
  });
});
