import { describe, expect, it } from "vitest";
import { api, createGroup, expectError, join, sendHttp, setupTenant } from "./helpers";
import type { Conversation, ConversationCreated, ConversationList, MembersChanged, MessagesPage, MuteSetting } from "./responses";

describe("direct conversations", () => {
  it("creates one conversation per pair: 201 first, then 200 with the same one from either side", async () => {
    const t = await setupTenant();
    const first = await api<ConversationCreated>("POST", "/v1/conversations", { token: t.tokens.alice!, body: { type: "direct", with: "bob" } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ type: "direct", members: ["alice", "bob"] });
    const fromBob = await api<ConversationCreated>("POST", "/v1/conversations", { token: t.tokens.bob!, body: { type: "direct", with: "alice" } });
    expect(fromBob.status).toBe(200);
    expect(fromBob.body.id).toBe(first.body.id);
  });

  it("creates exactly one conversation when both people open it at the same moment", async () => {
    const t = await setupTenant();
    const attempts = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        api<ConversationCreated>("POST", "/v1/conversations", {
          token: i % 2 === 0 ? t.tokens.alice! : t.tokens.bob!,
          body: { type: "direct", with: i % 2 === 0 ? "bob" : "alice" },
        }),
      ),
    );
    expect(new Set(attempts.map((a) => a.body.id)).size).toBe(1);
    expect(attempts.filter((a) => a.status === 201)).toHaveLength(1);
    expect(attempts.filter((a) => a.status === 200)).toHaveLength(5);
    const list = await api<ConversationList>("GET", "/v1/conversations", { token: t.tokens.alice! });
    expect(list.body.conversations.filter((c: { type: string }) => c.type === "direct")).toHaveLength(1);
  });

  it("refuses a direct conversation with yourself or with an unknown user", async () => {
    const t = await setupTenant();
    expectError(await api("POST", "/v1/conversations", { token: t.tokens.alice!, body: { type: "direct", with: "alice" } }), 400, "invalid_request");
    expectError(await api("POST", "/v1/conversations", { token: t.tokens.alice!, body: { type: "direct", with: "nobody" } }), 404, "not_found");
  });

  it("has fixed members: nobody can be added or leave", async () => {
    const t = await setupTenant();
    const { body } = await api<ConversationCreated>("POST", "/v1/conversations", { token: t.tokens.alice!, body: { type: "direct", with: "bob" } });
    expectError(await api("POST", `/v1/conversations/${body.id}/members`, { token: t.tokens.alice!, body: { userIds: ["carol"] } }), 403, "forbidden");
    expectError(await api("DELETE", `/v1/conversations/${body.id}/members/alice`, { token: t.tokens.alice! }), 403, "forbidden");
  });
});

describe("groups and membership", () => {
  it("makes the creator the owner and lists the members", async () => {
    const t = await setupTenant();
    const res = await api<ConversationCreated>("POST", "/v1/conversations", { token: t.tokens.alice!, body: { type: "group", name: "Deals", members: ["bob", "carol", "bob"] } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ type: "group", name: "Deals", members: ["alice", "bob", "carol"], roles: { alice: "owner", bob: "member", carol: "member" } });
    const got = await api<Conversation>("GET", `/v1/conversations/${res.body.id}`, { token: t.tokens.carol! });
    expect(got.status).toBe(200);
    expect(got.body.members).toEqual(["alice", "bob", "carol"]);
  });

  it("refuses unknown members when creating a group", async () => {
    const t = await setupTenant();
    expectError(await api("POST", "/v1/conversations", { token: t.tokens.alice!, body: { type: "group", name: "X", members: ["ghost"] } }), 400, "invalid_request");
  });

  it("records membership changes as system messages in the conversation's own sequence", async () => {
    const t = await setupTenant(["alice", "bob", "carol", "dave"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const bob = await join(id, t.tokens.bob!);
    await sendHttp(t.tokens.alice!, id, "m1", "before");
    const added = await api<MembersChanged>("POST", `/v1/conversations/${id}/members`, { token: t.tokens.alice!, body: { userIds: ["carol", "dave"] } });
    expect(added.status).toBe(200);
    expect(added.body.members).toEqual(["alice", "bob", "carol", "dave"]);
    expect((await api("DELETE", `/v1/conversations/${id}/members/dave`, { token: t.tokens.alice! })).status).toBe(204);
    expect((await api("DELETE", `/v1/conversations/${id}/members/carol`, { token: t.tokens.carol! })).status).toBe(204);
    const frames = await bob.socket.messages(4);
    expect(frames.map((m) => [m.seq, m.kind, m.body.event])).toEqual([
      [1, "text", undefined],
      [2, "system", "members_added"],
      [3, "system", "member_removed"],
      [4, "system", "member_left"],
    ]);
    expect(frames[1]!.body).toMatchObject({ actor: "alice", userIds: ["carol", "dave"] });
    bob.socket.close();
  });

  it("lets only the owner or an admin add members and remove others", async () => {
    const t = await setupTenant(["alice", "bob", "carol", "dave"]);
    const id = await createGroup(t.tokens.alice!, ["bob", "carol"]);
    expectError(await api("POST", `/v1/conversations/${id}/members`, { token: t.tokens.bob!, body: { userIds: ["dave"] } }), 403, "forbidden");
    expectError(await api("DELETE", `/v1/conversations/${id}/members/carol`, { token: t.tokens.bob! }), 403, "forbidden");
    const promoted = await api<MembersChanged>("PUT", `/v1/conversations/${id}/members/bob`, { token: t.tokens.alice!, body: { role: "admin" } });
    expect(promoted.body.roles.bob).toBe("admin");
    expect((await api("POST", `/v1/conversations/${id}/members`, { token: t.tokens.bob!, body: { userIds: ["dave"] } })).status).toBe(200);
    expect((await api("DELETE", `/v1/conversations/${id}/members/dave`, { token: t.tokens.bob! })).status).toBe(204);
    // An admin cannot remove the owner; a member cannot change roles.
    expectError(await api("DELETE", `/v1/conversations/${id}/members/alice`, { token: t.tokens.bob! }), 403, "forbidden");
    expectError(await api("PUT", `/v1/conversations/${id}/members/carol`, { token: t.tokens.carol!, body: { role: "admin" } }), 403, "forbidden");
  });

  it("passes ownership to the longest-standing admin when the owner leaves", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob", "carol"]);
    await api("PUT", `/v1/conversations/${id}/members/carol`, { token: t.tokens.alice!, body: { role: "admin" } });
    expect((await api("DELETE", `/v1/conversations/${id}/members/alice`, { token: t.tokens.alice! })).status).toBe(204);
    const view = await api<Conversation>("GET", `/v1/conversations/${id}`, { token: t.tokens.bob! });
    expect(view.body.roles).toEqual({ bob: "member", carol: "owner" });
    expectError(await api("GET", `/v1/conversations/${id}`, { token: t.tokens.alice! }), 404, "not_found");
  });

  it("closes a removed member's socket after showing the removal, and refuses their new sockets", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const bob = await join(id, t.tokens.bob!);
    await api("DELETE", `/v1/conversations/${id}/members/bob`, { token: t.tokens.alice! });
    expect((await bob.socket.next("message")).message.body).toMatchObject({ event: "member_removed", userIds: ["bob"] });
    expect(await bob.socket.next("error")).toMatchObject({ code: "forbidden" });
    expect((await bob.socket.waitClosed()).code).toBe(4403);
    const { socket, response } = await (await import("./helpers")).connect(id, t.tokens.bob!);
    expect(socket).toBeUndefined();
    expect(response.status).toBe(404);
    expectError(await sendHttp(t.tokens.bob!, id, "x", "x"), 404, "not_found");
  });

  it("lets a tenant backend act as its bot in conversations", async () => {
    const t = await setupTenant();
    const created = await api<ConversationCreated>("POST", "/v1/conversations", { token: t.apiKey, body: { type: "group", name: "Leads", members: ["alice"] } });
    expect(created.status).toBe(201);
    expect(created.body.roles).toEqual({ bot: "owner", alice: "member" });
    const sent = await sendHttp(t.apiKey, created.body.id, "bot-1", "new lead");
    expect(sent.body).toMatchObject({ sender: "bot", seq: 1 });
    const direct = await api<ConversationCreated>("POST", "/v1/conversations", { token: t.apiKey, body: { type: "direct", with: "alice" } });
    expect(direct.status).toBe(201);
    expect(direct.body.members).toEqual(["alice", "bot"]);
  });
});

describe("read cursors, typing and ping", () => {
  it("moves read cursors forward only and tells the other members", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    for (let i = 1; i <= 3; i++) await sendHttp(t.tokens.alice!, id, `r${i}`, `r${i}`);
    const alice = await join(id, t.tokens.alice!, { after: 3 });
    const bob = await join(id, t.tokens.bob!, { after: 3 });
    bob.socket.send({ type: "read", seq: 2 });
    expect(await alice.socket.next("read")).toEqual({ type: "read", userId: "bob", seq: 2 });
    bob.socket.send({ type: "read", seq: 1 });
    await bob.socket.drain();
    expect((await api("POST", `/v1/conversations/${id}/read`, { token: t.tokens.bob!, body: { seq: 1 } })).status).toBe(204);
    expect((await alice.socket.drain()).filter((f) => f.type === "read")).toEqual([]);
    // Past the end clamps to the last message.
    await api("POST", `/v1/conversations/${id}/read`, { token: t.tokens.bob!, body: { seq: 99 } });
    expect(await alice.socket.next("read")).toEqual({ type: "read", userId: "bob", seq: 3 });
    const view = await api<Conversation>("GET", `/v1/conversations/${id}`, { token: t.tokens.bob! });
    expect(view.body).toMatchObject({ readSeq: 3, unread: 0 });
    alice.socket.close();
    bob.socket.close();
  });

  it("relays typing to the other members and never stores it", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = await join(id, t.tokens.alice!);
    const bob = await join(id, t.tokens.bob!);
    alice.socket.send({ type: "typing" });
    expect(await bob.socket.next("typing")).toEqual({ type: "typing", userId: "alice" });
    expect((await alice.socket.drain()).filter((f) => f.type === "typing")).toEqual([]);
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.bob! });
    expect(history.body.messages).toEqual([]);
    expect((await api<Conversation>("GET", `/v1/conversations/${id}`, { token: t.tokens.bob! })).body.lastSeq).toBe(0);
    alice.socket.close();
    bob.socket.close();
  });

  it("answers ping with pong", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = await join(id, t.tokens.alice!);
    alice.socket.send('{"type":"ping"}');
    expect(await alice.socket.next("pong")).toEqual({ type: "pong" });
    alice.socket.send({ type: "ping" });
    expect(await alice.socket.next("pong")).toEqual({ type: "pong" });
    alice.socket.close();
  });

  it("keeps a muted flag per member", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const res = await api<MuteSetting>("PUT", `/v1/conversations/${id}/settings`, { token: t.tokens.bob!, body: { muted: true } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ conversationId: id, muted: true });
    expect((await api<Conversation>("GET", `/v1/conversations/${id}`, { token: t.tokens.bob! })).body.muted).toBe(true);
    expect((await api<Conversation>("GET", `/v1/conversations/${id}`, { token: t.tokens.alice! })).body.muted).toBe(false);
  });
});
