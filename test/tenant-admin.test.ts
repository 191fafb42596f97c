import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, createGroup, expectError, setupTenant } from "./helpers";
import type { Conversation, ConversationCreated, Integration, IntegrationCreated, MembersChanged, Message, MessagesPage } from "./responses";

type Msg = { seq: number; kind: string; sender: string; body: Record<string, unknown> };
const history = async (token: string, id: string) => (await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token })).body.messages as Msg[];
const text = (clientId: string, words: string) => ({ clientId, kind: "text", body: { text: words } });

describe("the tenant api key acts as the tenant's administrator", () => {
  it("posts as bot in a group it is not a member of, joining it first with a system message", async () => {
    const t = await setupTenant();
    const group = await createGroup(t.tokens.alice!, ["bob"], "Private");
    const first = await api<Message>("POST", `/v1/conversations/${group}/messages`, { token: t.apiKey, body: text("b-1", "Quarter closes Friday") });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ seq: 2, sender: "bot", kind: "text" });
    const second = await api<Message>("POST", `/v1/conversations/${group}/messages`, { token: t.apiKey, body: text("b-2", "Reminder") });
    expect(second.body.seq).toBe(3);
    expect((await history(t.tokens.bob!, group)).map((m) => [m.seq, m.kind, m.sender, m.body.event ?? m.body.text])).toEqual([
      [1, "system", "system", "members_added"],
      [2, "text", "bot", "Quarter closes Friday"],
      [3, "text", "bot", "Reminder"],
    ]);
    expect((await history(t.tokens.bob!, group))[0]!.body).toMatchObject({ actor: "bot", userIds: ["bot"] });
    const view = await api<Conversation>("GET", `/v1/conversations/${group}`, { token: t.tokens.alice! });
    expect(view.body.members).toEqual(["alice", "bob", "bot"]);
    expect(view.body.roles.bot).toBe("member");
  });

  it("joins nothing when its message is refused", async () => {
    const t = await setupTenant();
    const group = await createGroup(t.tokens.alice!, ["bob"], "Private");
    expectError(await api("POST", `/v1/conversations/${group}/messages`, { token: t.apiKey, body: { clientId: "x", kind: "text", body: {} } }), 400, "invalid_request");
    expect(await history(t.tokens.alice!, group)).toEqual([]);
    expect((await api<Conversation>("GET", `/v1/conversations/${group}`, { token: t.tokens.alice! })).body.members).toEqual(["alice", "bob"]);
  });

  it("posts in a direct conversation of two people, joining it in the open", async () => {
    const t = await setupTenant();
    const direct = await api<ConversationCreated>("POST", "/v1/conversations", { token: t.tokens.alice!, body: { type: "direct", with: "bob" } });
    const res = await api<Message>("POST", `/v1/conversations/${direct.body.id}/messages`, { token: t.apiKey, body: text("d-1", "Policy notice") });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect((await history(t.tokens.bob!, direct.body.id)).map((m) => m.kind)).toEqual(["system", "text"]);
  });

  it("adds and removes members of any group, the owner included, without being a member", async () => {
    const t = await setupTenant();
    const group = await createGroup(t.tokens.alice!, ["bob"], "Private");
    const view = await api<Conversation>("GET", `/v1/conversations/${group}`, { token: t.apiKey });
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ members: ["alice", "bob"], lastMessage: null, readSeq: 0 });
    const added = await api<MembersChanged>("POST", `/v1/conversations/${group}/members`, { token: t.apiKey, body: { userIds: ["carol"] } });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect(added.body.members).toEqual(["alice", "bob", "carol"]);
    expect((await api("DELETE", `/v1/conversations/${group}/members/alice`, { token: t.apiKey })).status).toBe(204);
    const after = await api<Conversation>("GET", `/v1/conversations/${group}`, { token: t.tokens.bob! });
    expect(after.body.members).toEqual(["bob", "carol"]);
    expect(after.body.roles.bob).toBe("owner");
    const events = (await history(t.tokens.bob!, group)).map((m) => [m.body.event, m.body.actor, m.body.userIds]);
    expect(events).toEqual([
      ["members_added", "bot", ["carol"]],
      ["member_removed", "bot", ["alice"]],
      ["owner_changed", "bot", ["bob"]],
    ]);
    // Still not a member: reading the messages needs membership.
    expectError(await api("GET", `/v1/conversations/${group}/messages`, { token: t.apiKey }), 404, "not_found");
  });

  it("cannot change the members of a direct conversation", async () => {
    const t = await setupTenant();
    const direct = await api<ConversationCreated>("POST", "/v1/conversations", { token: t.tokens.alice!, body: { type: "direct", with: "bob" } });
    expectError(await api("POST", `/v1/conversations/${direct.body.id}/members`, { token: t.apiKey, body: { userIds: ["carol"] } }), 403, "forbidden");
    expectError(await api("DELETE", `/v1/conversations/${direct.body.id}/members/bob`, { token: t.apiKey }), 403, "forbidden");
  });

  it("gives members no such rights: a plain member still cannot remove anyone", async () => {
    const t = await setupTenant();
    const group = await createGroup(t.tokens.alice!, ["bob", "carol"], "Team");
    expectError(await api("DELETE", `/v1/conversations/${group}/members/carol`, { token: t.tokens.bob! }), 403, "forbidden");
  });

  it("reaches no conversation of another tenant: 404 as for an unknown id, and nothing changes", async () => {
    const a = await setupTenant();
    const b = await setupTenant();
    const group = await createGroup(a.tokens.alice!, ["bob"], "A only");
    const unknown = "g_" + "0".repeat(32);
    for (const id of [group, unknown]) {
      expectError(await api("POST", `/v1/conversations/${id}/messages`, { token: b.apiKey, body: text("x", "hi") }), 404, "not_found");
      expectError(await api("POST", `/v1/conversations/${id}/members`, { token: b.apiKey, body: { userIds: ["alice"] } }), 404, "not_found");
      expectError(await api("DELETE", `/v1/conversations/${id}/members/bob`, { token: b.apiKey }), 404, "not_found");
      expectError(await api("GET", `/v1/conversations/${id}`, { token: b.apiKey }), 404, "not_found");
    }
    expect(await history(a.tokens.alice!, group)).toEqual([]);
    expect((await api<Conversation>("GET", `/v1/conversations/${group}`, { token: a.tokens.alice! })).body.members).toEqual(["alice", "bob"]);
  });

  it("re-routes an integration with PATCH, to a conversation of its own tenant only", async () => {
    const t = await setupTenant();
    const other = await setupTenant();
    const first = await createGroup(t.tokens.alice!, ["bob"], "First");
    const second = await createGroup(t.tokens.bob!, ["carol"], "Second");
    const foreign = await createGroup(other.tokens.alice!, ["bob"], "Foreign");
    const hook = await api<IntegrationCreated>("POST", "/v1/integrations", { token: t.apiKey, body: { kind: "slack", name: "Alerts", conversationId: first } });
    expectError(await api("PATCH", `/v1/integrations/${hook.body.id}`, { token: t.apiKey, body: { conversationId: foreign } }), 400, "invalid_request");
    const patched = await api<Integration>("PATCH", `/v1/integrations/${hook.body.id}`, { token: t.apiKey, body: { conversationId: second } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.conversationId).toBe(second);
    const posted = await exports.default.fetch(hook.body.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "Moved" }) });
    expect(posted.status).toBe(200);
    await posted.text();
    expect(await history(t.tokens.alice!, first)).toEqual([]);
    expect((await history(t.tokens.carol!, second)).filter((m) => m.kind === "crm").map((m) => m.body.text)).toEqual(["Moved"]);
    expect(await history(other.tokens.alice!, foreign)).toEqual([]);
  });

  it("routes an integration to a conversation the bot is not in: the bot joins it with its first card", async () => {
    const t = await setupTenant();
    const group = await createGroup(t.tokens.alice!, ["bob"], "Deals");
    const res = await api<IntegrationCreated>("POST", "/v1/integrations", { token: t.apiKey, body: { kind: "slack", name: "Alerts", conversationId: group } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(await history(t.tokens.alice!, group)).toEqual([]);
    const posted = await exports.default.fetch(res.body.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "Deal won" }) });
    expect([posted.status, await posted.text()]).toEqual([200, "ok"]);
    expect((await history(t.tokens.alice!, group)).map((m) => [m.kind, m.sender, m.kind === "system" ? m.body.event : m.body.text])).toEqual([
      ["system", "system", "members_added"],
      ["crm", "bot", "Deal won"],
    ]);
  });
});
