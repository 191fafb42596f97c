import { describe, expect, it } from "vitest";
import { newGroupId } from "../src/domain/conversation-ids";
import { api, connect, createGroup, errorOf, expectError, join, sendHttp, setupTenant, type ApiResponse, type TestTenant } from "./helpers";
import type { Conversation, ConversationCreated, ConversationList, IssuedToken, MessagesPage, User } from "./responses";

/** A well-formed conversation id that no one has: the reference answer for "does not exist". */
function nonexistentGroupId(): string {
  return newGroupId();
}

/** Two tenants with users of the same ids, and a group of A's alice and bob with one message in it. */
async function twoTenants(): Promise<{ a: TestTenant; b: TestTenant; groupA: string }> {
  const [a, b] = await Promise.all([setupTenant(["alice", "bob", "carol"]), setupTenant(["alice", "bob", "carol"])]);
  const groupA = await createGroup(a.tokens.alice!, ["bob"], "A secret plans");
  const sent = await sendHttp(a.tokens.alice!, groupA, "a1", "tenant A only");
  expect(sent.status).toBe(201);
  return { a, b, groupA };
}

/** The error part of a response, without its per-request id. */
function errorShape(res: ApiResponse): { status: number; code: unknown; message: unknown } {
  return { status: res.status, code: errorOf(res)?.code, message: errorOf(res)?.message };
}

/** The answer for `path` on `id` is a 404 identical to the one for an id that does not exist. */
async function expectSameAsNonexistent(
  token: string,
  method: string,
  path: (id: string) => string,
  id: string,
  body?: unknown,
): Promise<void> {
  const opts = body === undefined ? { token } : { token, body };
  const real = await api(method, path(id), opts);
  const ghost = await api(method, path(nonexistentGroupId()), opts);
  expectError(real, 404, "not_found");
  expect(errorShape(real)).toEqual(errorShape(ghost));
}

/** Tenant A's group is untouched: one message, alice and bob only. */
async function expectGroupAUntouched(a: TestTenant, groupA: string): Promise<void> {
  const view = await api<Conversation>("GET", `/v1/conversations/${groupA}`, { token: a.tokens.alice! });
  expect(view.status).toBe(200);
  expect(view.body.members).toEqual(["alice", "bob"]);
  expect(view.body.lastSeq).toBe(1);
  const history = await api<MessagesPage>("GET", `/v1/conversations/${groupA}/messages`, { token: a.tokens.alice! });
  expect(history.body.messages.map((m: { clientId: string; sender: string }) => [m.clientId, m.sender])).toEqual([["a1", "alice"]]);
}

describe.concurrent("across tenants", () => {
  it("a user of tenant B cannot see tenant A's conversation: 404 exactly as for a nonexistent id", async () => {
    const { b, groupA } = await twoTenants();
    await expectSameAsNonexistent(b.tokens.alice!, "GET", (id) => `/v1/conversations/${id}`, groupA);
  });

  it("a user of tenant B cannot read tenant A's messages: 404 exactly as for a nonexistent id", async () => {
    const { b, groupA } = await twoTenants();
    await expectSameAsNonexistent(b.tokens.alice!, "GET", (id) => `/v1/conversations/${id}/messages`, groupA);
    await expectSameAsNonexistent(b.tokens.alice!, "GET", (id) => `/v1/conversations/${id}/messages?after=0&limit=200`, groupA);
  });

  it("a user of tenant B cannot post into tenant A's conversation, and nothing is stored there", async () => {
    const { a, b, groupA } = await twoTenants();
    await expectSameAsNonexistent(b.tokens.alice!, "POST", (id) => `/v1/conversations/${id}/messages`, groupA, {
      clientId: "intruder",
      kind: "text",
      body: { text: "hello from B" },
    });
    await expectGroupAUntouched(a, groupA);
  });

  it("a user of tenant B cannot add members to tenant A's conversation", async () => {
    const { a, b, groupA } = await twoTenants();
    await expectSameAsNonexistent(b.tokens.alice!, "POST", (id) => `/v1/conversations/${id}/members`, groupA, { userIds: ["carol"] });
    await expectGroupAUntouched(a, groupA);
  });

  it("a user of tenant B cannot remove members of, mark read or mute tenant A's conversation", async () => {
    const { a, b, groupA } = await twoTenants();
    await expectSameAsNonexistent(b.tokens.alice!, "DELETE", (id) => `/v1/conversations/${id}/members/bob`, groupA);
    await expectSameAsNonexistent(b.tokens.bob!, "POST", (id) => `/v1/conversations/${id}/read`, groupA, { seq: 1 });
    await expectSameAsNonexistent(b.tokens.bob!, "PUT", (id) => `/v1/conversations/${id}/settings`, groupA, { muted: true });
    await expectGroupAUntouched(a, groupA);
    const bobView = await api<Conversation>("GET", `/v1/conversations/${groupA}`, { token: a.tokens.bob! });
    expect(bobView.body.readSeq).toBe(0);
    expect(bobView.body.muted ?? false).toBe(false);
  });

  it("a user of tenant B cannot open a socket on tenant A's conversation: 404 before upgrade", async () => {
    const { b, groupA } = await twoTenants();
    const real = await connect(groupA, b.tokens.alice!);
    const ghost = await connect(nonexistentGroupId(), b.tokens.alice!);
    real.socket?.close();
    ghost.socket?.close();
    expect(real.socket).toBeUndefined();
    expect(real.response.status).toBe(404);
    expect(real.response.webSocket).toBeNull();
    const realBody = (await real.response.json()) as { error: { code: string; message: string } };
    const ghostBody = (await ghost.response.json()) as { error: { code: string; message: string } };
    expect(realBody.error.code).toBe("not_found");
    expect({ status: real.response.status, code: realBody.error.code, message: realBody.error.message }).toEqual({
      status: ghost.response.status,
      code: ghostBody.error.code,
      message: ghostBody.error.message,
    });
  });

  it("tenant B's api key, acting as its bot, cannot see or post into tenant A's conversation", async () => {
    const { a, b, groupA } = await twoTenants();
    await expectSameAsNonexistent(b.apiKey, "GET", (id) => `/v1/conversations/${id}`, groupA);
    await expectSameAsNonexistent(b.apiKey, "POST", (id) => `/v1/conversations/${id}/messages`, groupA, {
      clientId: "bot-intruder",
      kind: "text",
      body: { text: "x" },
    });
    await expectGroupAUntouched(a, groupA);
  });

  it("conversation lists never show another tenant's conversations", async () => {
    const { a, b, groupA } = await twoTenants();
    const groupB = await createGroup(b.tokens.alice!, ["bob"], "B plans");
    const listA = await api<ConversationList>("GET", "/v1/conversations", { token: a.tokens.alice! });
    const listB = await api<ConversationList>("GET", "/v1/conversations", { token: b.tokens.alice! });
    expect(listA.body.conversations.map((c: { id: string }) => c.id)).toEqual([groupA]);
    expect(listB.body.conversations.map((c: { id: string }) => c.id)).toEqual([groupB]);
    const bobB = await api<ConversationList>("GET", "/v1/conversations", { token: b.tokens.bob! });
    expect(bobB.body.conversations.map((c: { id: string }) => c.id)).toEqual([groupB]);
    const botB = await api<ConversationList>("GET", "/v1/conversations", { token: b.apiKey });
    expect(botB.body.conversations).toEqual([]);
  });

  it("a tenant's users list shows nothing of another tenant's users of the same id", async () => {
    const { a, b } = await twoTenants();
    await api("PUT", "/v1/users/alice", { token: a.apiKey, body: { name: "Alice of A", title: "A-only title" } });
    const fromB = await api<User>("GET", "/v1/users/alice", { token: b.tokens.bob! });
    expect(fromB.status).toBe(200);
    expect(fromB.body).toMatchObject({ id: "alice", name: "ALICE" });
    expect(JSON.stringify(fromB.body)).not.toContain("A-only");
  });

  it("tenant A's api key cannot read, update or issue tokens for tenant B's users", async () => {
    const { a, b } = await twoTenants();
    const onlyInB = "zed";
    expect((await api("PUT", `/v1/users/${onlyInB}`, { token: b.apiKey, body: { name: "Zed of B" } })).status).toBe(200);

    expectError(await api("GET", `/v1/users/${onlyInB}`, { token: a.apiKey }), 404, "not_found");
    expectError(await api("POST", `/v1/users/${onlyInB}/tokens`, { token: a.apiKey, body: {} }), 404, "not_found");
    expectError(await api("GET", `/v1/users/${onlyInB}`, { token: a.tokens.alice! }), 404, "not_found");

    // A PUT with A's key writes A's user of that id, never B's.
    expect((await api("PUT", "/v1/users/alice", { token: a.apiKey, body: { name: "Hijacked?" } })).status).toBe(200);
    expect((await api<User>("GET", "/v1/users/alice", { token: b.apiKey })).body.name).toBe("ALICE");
    expect((await api("PUT", `/v1/users/${onlyInB}`, { token: a.apiKey, body: { name: "Zed of A" } })).status).toBe(200);
    expect((await api<User>("GET", `/v1/users/${onlyInB}`, { token: b.apiKey })).body.name).toBe("Zed of B");
  });

  it("tenant A's api key cannot mint keys for tenant B", async () => {
    const { a, b } = await twoTenants();
    expectError(await api("POST", `/v1/tenants/${b.tenantId}/api-keys`, { token: a.apiKey }), 403, "forbidden");
  });

  it("a user of tenant A cannot open a conversation with a user who exists only in tenant B", async () => {
    const { a, b } = await twoTenants();
    expect((await api("PUT", "/v1/users/zed", { token: b.apiKey, body: { name: "Zed of B" } })).status).toBe(200);
    const direct = await api<ConversationCreated>("POST", "/v1/conversations", { token: a.tokens.alice!, body: { type: "direct", with: "zed" } });
    expect(direct.status).toBeGreaterThanOrEqual(400);
    expect(direct.status).toBeLessThan(500);
    const group = await api<ConversationCreated>("POST", "/v1/conversations", { token: a.tokens.alice!, body: { type: "group", name: "G", members: ["zed"] } });
    expect(group.status).toBeGreaterThanOrEqual(400);
    expect(group.status).toBeLessThan(500);
    const zedToken = await api<IssuedToken>("POST", "/v1/users/zed/tokens", { token: b.apiKey, body: {} });
    const zedList = await api<ConversationList>("GET", "/v1/conversations", { token: zedToken.body.token });
    expect(zedList.body.conversations).toEqual([]);
  });

  it("a direct conversation between alice and bob in tenant A and in tenant B are different conversations with separate logs", async () => {
    const { a, b } = await twoTenants();
    const dA = await api<ConversationCreated>("POST", "/v1/conversations", { token: a.tokens.alice!, body: { type: "direct", with: "bob" } });
    const dB = await api<ConversationCreated>("POST", "/v1/conversations", { token: b.tokens.alice!, body: { type: "direct", with: "bob" } });
    expect(dA.status).toBe(201);
    expect(dB.status).toBe(201);
    expect(dA.body.id).not.toBe(dB.body.id);

    expect((await sendHttp(a.tokens.alice!, dA.body.id, "same-client-id", "in A")).body.seq).toBe(1);
    expect((await sendHttp(a.tokens.bob!, dA.body.id, "reply", "still A")).body.seq).toBe(2);
    const inB = await sendHttp(b.tokens.alice!, dB.body.id, "same-client-id", "in B");
    expect(inB.status).toBe(201);
    expect(inB.body.seq).toBe(1);

    const logA = await api<MessagesPage>("GET", `/v1/conversations/${dA.body.id}/messages`, { token: a.tokens.bob! });
    const logB = await api<MessagesPage>("GET", `/v1/conversations/${dB.body.id}/messages`, { token: b.tokens.bob! });
    expect(logA.body.messages.map((m) => m.body.text)).toEqual(["in A", "still A"]);
    expect(logB.body.messages.map((m) => m.body.text)).toEqual(["in B"]);

    // Each tenant's alice reaches only her own tenant's direct conversation.
    await expectSameAsNonexistent(b.tokens.alice!, "GET", (id) => `/v1/conversations/${id}/messages`, dA.body.id);
    await expectSameAsNonexistent(a.tokens.bob!, "GET", (id) => `/v1/conversations/${id}`, dB.body.id);
  });

  it("a message in tenant A never reaches a socket in tenant B", async () => {
    const { a, b } = await twoTenants();
    const dA = (await api<ConversationCreated>("POST", "/v1/conversations", { token: a.tokens.alice!, body: { type: "direct", with: "bob" } })).body.id;
    const dB = (await api<ConversationCreated>("POST", "/v1/conversations", { token: b.tokens.alice!, body: { type: "direct", with: "bob" } })).body.id;
    const bobA = await join(dA, a.tokens.bob!);
    const bobB = await join(dB, b.tokens.bob!);
    try {
      expect(bobB.ready.lastSeq).toBe(0);
      expect((await sendHttp(a.tokens.alice!, dA, "x1", "for A's bob")).status).toBe(201);
      expect((await bobA.socket.next("message")).message).toMatchObject({ seq: 1, body: { text: "for A's bob" } });
      expect(await bobB.socket.drain()).toEqual([]);
    } finally {
      bobA.socket.close();
      bobB.socket.close();
    }
  });
});

describe.concurrent("within a tenant, a non-member", () => {
  async function groupWithoutCarol() {
    const t = await setupTenant(["alice", "bob", "carol"]);
    const id = await createGroup(t.tokens.alice!, ["bob"], "no carol");
    expect((await sendHttp(t.tokens.alice!, id, "m1", "members only")).status).toBe(201);
    return { t, id };
  }

  it("gets 404 on the conversation, exactly as for a nonexistent id", async () => {
    const { t, id } = await groupWithoutCarol();
    await expectSameAsNonexistent(t.tokens.carol!, "GET", (c) => `/v1/conversations/${c}`, id);
  });

  it("gets 404 on its history", async () => {
    const { t, id } = await groupWithoutCarol();
    await expectSameAsNonexistent(t.tokens.carol!, "GET", (c) => `/v1/conversations/${c}/messages`, id);
  });

  it("gets 404 on send, and nothing is stored", async () => {
    const { t, id } = await groupWithoutCarol();
    await expectSameAsNonexistent(t.tokens.carol!, "POST", (c) => `/v1/conversations/${c}/messages`, id, {
      clientId: "c1",
      kind: "text",
      body: { text: "let me in" },
    });
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.alice! });
    expect(history.body.messages.map((m: { clientId: string }) => m.clientId)).toEqual(["m1"]);
  });

  it("gets 404 before upgrade on a socket", async () => {
    const { t, id } = await groupWithoutCarol();
    const { socket, response } = await connect(id, t.tokens.carol!);
    socket?.close();
    expect(socket).toBeUndefined();
    expect(response.status).toBe(404);
    expect(response.webSocket).toBeNull();
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });

  it("cannot add itself as a member", async () => {
    const { t, id } = await groupWithoutCarol();
    await expectSameAsNonexistent(t.tokens.carol!, "POST", (c) => `/v1/conversations/${c}/members`, id, { userIds: ["carol"] });
    const view = await api<Conversation>("GET", `/v1/conversations/${id}`, { token: t.tokens.alice! });
    expect(view.body.members).toEqual(["alice", "bob"]);
  });

  it("does not see the conversation in its list", async () => {
    const { t } = await groupWithoutCarol();
    const list = await api<ConversationList>("GET", "/v1/conversations", { token: t.tokens.carol! });
    expect(list.status).toBe(200);
    expect(list.body.conversations).toEqual([]);
  });

  it("who was removed loses access, exactly as if the conversation did not exist", async () => {
    const t = await setupTenant(["alice", "bob", "carol"]);
    const id = await createGroup(t.tokens.alice!, ["bob", "carol"]);
    expect((await api("GET", `/v1/conversations/${id}`, { token: t.tokens.carol! })).status).toBe(200);
    expect((await api("DELETE", `/v1/conversations/${id}/members/carol`, { token: t.tokens.alice! })).status).toBe(204);
    await expectSameAsNonexistent(t.tokens.carol!, "GET", (c) => `/v1/conversations/${c}/messages`, id);
    const { socket, response } = await connect(id, t.tokens.carol!);
    socket?.close();
    expect(response.status).toBe(404);
  });
});
