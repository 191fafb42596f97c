import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, BASE, createGroup, expectError, join, sendHttp, setupTenant } from "./helpers";
import type { Conversation, ConversationList, Decision, Edits, Message, MessageSearch, MessagesPage, Reactions, Receipts } from "./responses";

const post = (token: string, id: string, clientId: string, kind: string, body: unknown, extra: Record<string, unknown> = {}) =>
  api<Message>("POST", `/v1/conversations/${id}/messages`, { token, body: { clientId, kind, body, ...extra } });

describe("message kinds", () => {
  it("accepts a valid body of every sendable kind and rejects bad ones", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const uploadOf = async (bytes: Uint8Array, contentType: string, name: string) => {
      const res = await exports.default.fetch(`${BASE}/v1/conversations/${id}/attachments?name=${name}`, {
        method: "POST",
        headers: { authorization: `Bearer ${t.tokens.alice}`, "content-type": contentType },
        body: bytes,
      });
      return { ...((await res.json()) as { id: string }), name, size: bytes.byteLength, contentType };
    };
    const pngBytes = new Uint8Array(32);
    pngBytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const attachment = await uploadOf(new TextEncoder().encode("%PDF-1.7 quote"), "application/pdf", "q.pdf");
    const picture = await uploadOf(pngBytes, "image/png", "p.png");
    const good: [string, unknown][] = [
      ["text", { text: "hi", mentions: ["bob", "all"] }],
      ["file", { attachment }],
      ["image", { attachment: picture }],
      ["log", { date: "2026-11-26", done: ["called ACME"], planned: ["send quote"], blockers: [], text: "ok" }],
      ["approval", { title: "Discount 15%", approvers: ["bob"], amount: 1200, currency: "EUR" }],
    ];
    for (const [i, [kind, body]] of good.entries()) expect((await post(t.tokens.alice!, id, `g${i}`, kind, body)).status, kind).toBe(201);
    const bad: [string, unknown][] = [
      ["text", { text: "" }],
      ["text", { text: 5 }],
      ["text", { text: "x", mentions: ["nobody"] }],
      ["file", { attachment: { id: "a", name: "x", size: -1, contentType: "application/pdf" } }],
      ["image", { attachment: { ...attachment, contentType: "not a type" } }],
      ["image", { attachment }],
      ["file", { attachment: { ...attachment, id: "f_00000000000000000000000000000000" } }],
      ["log", { date: "yesterday" }],
      ["log", { date: "2026-11-26", done: "not a list" }],
      ["approval", { title: "x", approvers: [] }],
      ["approval", { title: "x", approvers: ["carol"] }],
      ["approval", { title: "x", approvers: ["bob"], currency: "euro" }],
      ["system", { event: "members_added", actor: "alice", userIds: [] }],
      ["sticker", {}],
    ];
    for (const [i, [kind, body]] of bad.entries()) expectError(await post(t.tokens.alice!, id, `b${i}`, kind, body), 400, "invalid_request");
    expectError(await post(t.tokens.alice!, id, "crm", "crm", { source: "x", objectType: "lead", objectId: "1", event: "lead.created", title: "t" }), 403, "forbidden");
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.bob! });
    expect(history.body.messages.map((m) => m.kind)).toEqual(["text", "file", "image", "log", "approval"]);
    expect(history.body.messages[4]?.body).toMatchObject({ state: "pending", decisions: [] });
  });

  it("keeps replies pointing at an existing message", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "q", "question");
    const reply = await post(t.tokens.bob!, id, "r", "text", { text: "answer" }, { replyTo: 1 });
    expect(reply.body).toMatchObject({ seq: 2, replyTo: 1 });
    expectError(await post(t.tokens.bob!, id, "r2", "text", { text: "into the void" }, { replyTo: 99 }), 400, "invalid_request");
  });
});

describe("reactions", () => {
  it("keeps one reaction per emoji per person, idempotently, with counts and who", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob", "carol"]);
    await sendHttp(t.tokens.alice!, id, "m", "deal closed");
    const react = (token: string, emoji: string, method = "PUT") =>
      api<Reactions>(method, `/v1/conversations/${id}/messages/1/reactions/${encodeURIComponent(emoji)}`, { token });
    await react(t.tokens.bob!, "👍");
    await react(t.tokens.bob!, "👍");
    const third = await react(t.tokens.carol!, "👍");
    expect(third.body.reactions).toEqual({ "👍": ["bob", "carol"] });
    await react(t.tokens.carol!, "🎉");
    const removed = await react(t.tokens.bob!, "👍", "DELETE");
    expect(removed.body.reactions).toEqual({ "👍": ["carol"], "🎉": ["carol"] });
    await react(t.tokens.bob!, "👍", "DELETE");
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.alice! });
    expect(history.body.messages[0]?.reactions).toEqual({ "👍": ["carol"], "🎉": ["carol"] });
    // Three changes, three events: the repeated add and the repeated remove wrote nothing.
    expect(history.body.messages.filter((m) => m.kind === "system").map((m) => m.body.event)).toEqual([
      "reaction_added",
      "reaction_added",
      "reaction_added",
      "reaction_removed",
    ]);
    expectError(await react(t.tokens.bob!, "a b"), 400, "invalid_request");
    expectError(await api("PUT", `/v1/conversations/${id}/messages/99/reactions/:x:`, { token: t.tokens.bob! }), 404, "not_found");
  });

  it("does not count reactions and other events as unread", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "m", "one");
    await api("PUT", `/v1/conversations/${id}/messages/1/reactions/:white_check_mark:`, { token: t.tokens.alice! });
    const view = await api<Conversation>("GET", `/v1/conversations/${id}`, { token: t.tokens.bob! });
    expect(view.body).toMatchObject({ lastSeq: 2, unread: 1, lastMessage: { seq: 1 } });
    const list = await api<ConversationList>("GET", "/v1/conversations", { token: t.tokens.bob! });
    expect(list.body.conversations[0]).toMatchObject({ unread: 1, lastMessage: { seq: 1 } });
  });
});

describe("edits and recalls", () => {
  it("lets the author edit within the window, keeps the edit history, and shows the current text everywhere", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "m", "price is 100");
    expectError(await api("PATCH", `/v1/conversations/${id}/messages/1`, { token: t.tokens.bob!, body: { body: { text: "hacked" } } }), 403, "forbidden");
    expectError(await api("PATCH", `/v1/conversations/${id}/messages/1`, { token: t.tokens.alice!, body: { body: { text: "" } } }), 400, "invalid_request");
    const edited = await api<Message>("PATCH", `/v1/conversations/${id}/messages/1`, { token: t.tokens.alice!, body: { body: { text: "price is 120" } } });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ seq: 1, body: { text: "price is 120" } });
    expect(edited.body.editedAt).toBeGreaterThan(0);
    const edits = await api<Edits>("GET", `/v1/conversations/${id}/messages/1/edits`, { token: t.tokens.bob! });
    expect(edits.body.edits.map((e) => e.body.text)).toEqual(["price is 100"]);
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages?limit=1&after=0`, { token: t.tokens.bob! });
    expect(history.body.messages[0]?.body.text).toBe("price is 120");
    const hit = await api<MessageSearch>("GET", "/v1/search/messages?q=120", { token: t.tokens.bob! });
    expect(hit.body.hits).toHaveLength(1);
    expect((await api<MessageSearch>("GET", "/v1/search/messages?q=100", { token: t.tokens.bob! })).body.hits).toEqual([]);
  });

  it("refuses edits and author recalls after the tenant's windows, but lets a group admin recall any time", async () => {
    const t = await setupTenant();
    await api("PUT", "/v1/tenant/settings", { token: t.apiKey, body: { editWindowSeconds: 0, recallWindowSeconds: 0 } });
    const id = await createGroup(t.tokens.alice!, ["bob", "carol"]);
    const sent = await sendHttp(t.tokens.bob!, id, "m", "too late");
    // A zero-second window has passed once the clock has moved past the message's own timestamp.
    while (Date.now() <= (sent.body.ts as number)) await new Promise((r) => setTimeout(r, 1));
    expectError(await api("PATCH", `/v1/conversations/${id}/messages/1`, { token: t.tokens.bob!, body: { body: { text: "x" } } }), 403, "forbidden");
    expectError(await api("POST", `/v1/conversations/${id}/messages/1/recall`, { token: t.tokens.bob! }), 403, "forbidden");
    expectError(await api("POST", `/v1/conversations/${id}/messages/1/recall`, { token: t.tokens.carol! }), 403, "forbidden");
    const recalled = await api<Message>("POST", `/v1/conversations/${id}/messages/1/recall`, { token: t.tokens.alice! });
    expect(recalled.status).toBe(200);
    expect(recalled.body).toMatchObject({ seq: 1, recalled: true, body: {} });
  });

  it("removes a recalled message's body from history, search and the D1 mirror, leaving a tombstone", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "m", "confidential margin 37 percent");
    await api("PATCH", `/v1/conversations/${id}/messages/1`, { token: t.tokens.alice!, body: { body: { text: "confidential margin 38 percent" } } });
    expect((await api("POST", `/v1/conversations/${id}/messages/1/recall`, { token: t.tokens.alice! })).status).toBe(200);
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.bob! });
    expect(history.body.messages[0]).toMatchObject({ seq: 1, recalled: true, body: {} });
    expect(JSON.stringify(history.body)).not.toContain("margin");
    expect((await api<Edits>("GET", `/v1/conversations/${id}/messages/1/edits`, { token: t.tokens.bob! })).body.edits).toEqual([]);
    expect((await api<MessageSearch>("GET", "/v1/search/messages?q=margin", { token: t.tokens.bob! })).body.hits).toEqual([]);
    const rows = await env.DB.prepare("SELECT body, text, grams, recalled FROM messages WHERE conversation_id = ?").bind(id).all();
    expect(JSON.stringify(rows.results)).not.toContain("margin");
    const list = await api<ConversationList>("GET", "/v1/conversations", { token: t.tokens.bob! });
    expect(JSON.stringify(list.body)).not.toContain("margin");
    expectError(await api("PATCH", `/v1/conversations/${id}/messages/1`, { token: t.tokens.alice!, body: { body: { text: "back" } } }), 409, "conflict");
  });

  it("deletes a message for me only", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "a", "keep");
    await sendHttp(t.tokens.alice!, id, "b", "hide me");
    const bob = await join(id, t.tokens.bob!, { after: 2 });
    expect((await api("DELETE", `/v1/conversations/${id}/messages/2`, { token: t.tokens.bob! })).status).toBe(204);
    expect(await bob.socket.next("hidden")).toEqual({ type: "hidden", seq: 2 });
    const mine = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.bob! });
    expect(mine.body.messages.map((m: { seq: number }) => m.seq)).toEqual([1]);
    const theirs = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.alice! });
    expect(theirs.body.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2]);
    bob.socket.close();
    const again = await join(id, t.tokens.bob!, { after: 0 });
    expect((await again.socket.messages(1))[0]!.seq).toBe(1);
    expect((await again.socket.drain()).filter((f) => f.type === "message")).toEqual([]);
    again.socket.close();
  });

  it("replays every change in order to a device that reconnects with after=", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "m", "v1");
    const bob = await join(id, t.tokens.bob!, { after: 1 });
    bob.socket.close();
    const alice = await join(id, t.tokens.alice!, { after: 1 });
    alice.socket.send({ type: "edit", seq: 1, body: { text: "v2" } });
    alice.socket.send({ type: "react", seq: 1, emoji: "👀" });
    alice.socket.send({ type: "react", seq: 1, emoji: "👀", remove: true });
    alice.socket.send({ type: "send", clientId: "m2", kind: "text", body: { text: "after" } });
    alice.socket.send({ type: "recall", seq: 1 });
    await alice.socket.messages(5);
    const back = await join(id, t.tokens.bob!, { after: 1 });
    const events = (await back.socket.messages(5)).map((m) => [m.seq, m.kind === "system" ? m.body.event : m.kind]);
    expect(events).toEqual([
      [2, "message_edited"],
      [3, "reaction_added"],
      [4, "reaction_removed"],
      [5, "text"],
      [6, "message_recalled"],
    ]);
    for (const s of [alice, back]) s.socket.close();
  });
});

describe("read receipts", () => {
  it("says who of the other members has read a message", async () => {
    const t = await setupTenant(["alice", "bob", "carol", "dave"]);
    const id = await createGroup(t.tokens.alice!, ["bob", "carol", "dave"]);
    await sendHttp(t.tokens.alice!, id, "m1", "one");
    await sendHttp(t.tokens.alice!, id, "m2", "two");
    await api("POST", `/v1/conversations/${id}/read`, { token: t.tokens.bob!, body: { seq: 2 } });
    await api("POST", `/v1/conversations/${id}/read`, { token: t.tokens.carol!, body: { seq: 1 } });
    const r1 = await api<Receipts>("GET", `/v1/conversations/${id}/messages/1/receipts`, { token: t.tokens.alice! });
    expect(r1.body).toEqual({ seq: 1, readBy: ["bob", "carol"], count: 2, of: 3 });
    const r2 = await api<Receipts>("GET", `/v1/conversations/${id}/messages/2/receipts`, { token: t.tokens.alice! });
    expect(r2.body).toEqual({ seq: 2, readBy: ["bob"], count: 1, of: 3 });
    expectError(await api("GET", `/v1/conversations/${id}/messages/9/receipts`, { token: t.tokens.alice! }), 404, "not_found");
  });
});

describe("approvals", () => {
  async function request(approvers: string[]) {
    const t = await setupTenant(["alice", "bob", "carol", "dave"]);
    const id = await createGroup(t.tokens.alice!, ["bob", "carol", "dave"]);
    const res = await post(t.tokens.alice!, id, "req", "approval", { title: "Discount for ACME", approvers, amount: 5000, currency: "USD" });
    expect(res.status).toBe(201);
    const decide = (token: string, decision: string, clientId = `d-${Math.random()}`, comment?: string) =>
      api<Decision>("POST", `/v1/conversations/${id}/messages/${res.body.seq}/decision`, { token, body: { clientId, decision, ...(comment ? { comment } : {}) } });
    return { t, id, seq: res.body.seq as number, decide };
  }

  it("lets only listed approvers decide, and approves once every approver has", async () => {
    const { t, id, seq, decide } = await request(["bob", "carol"]);
    expectError(await decide(t.tokens.dave!, "approve"), 403, "forbidden");
    expectError(await decide(t.tokens.alice!, "approve"), 403, "forbidden");
    const first = await decide(t.tokens.bob!, "approve", "bob-1", "fine by me");
    expect(first.status).toBe(201);
    expect(first.body.decision).toMatchObject({ kind: "approval", sender: "bob", replyTo: seq, body: { request: seq, decision: "approved", state: "pending", comment: "fine by me" } });
    expect(first.body.request.body.state).toBe("pending");
    expectError(await decide(t.tokens.bob!, "reject"), 409, "conflict");
    const retried = await decide(t.tokens.bob!, "approve", "bob-1");
    expect(retried.status).toBe(200);
    expect(retried.body.decision.seq).toBe(first.body.decision.seq);
    const second = await decide(t.tokens.carol!, "approve");
    expect(second.body.request.body).toMatchObject({ state: "approved", decisions: [{ by: "bob", decision: "approved" }, { by: "carol", decision: "approved" }] });
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.dave! });
    expect(history.body.messages.find((m) => m.seq === seq)?.body.state).toBe("approved");
  });

  it("is rejected by one rejection and then takes no more decisions, in sequence order", async () => {
    const { t, id, seq, decide } = await request(["bob", "carol"]);
    const rejected = await decide(t.tokens.carol!, "reject", "c", "too steep");
    expect(rejected.body.request.body.state).toBe("rejected");
    expectError(await decide(t.tokens.bob!, "approve"), 409, "conflict");
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages?after=${seq}`, { token: t.tokens.dave! });
    expect(history.body.messages.map((m: { kind: string; body: { decision?: string } }) => [m.kind, m.body.decision])).toEqual([["approval", "rejected"]]);
  });

  it("refuses a decision on something that is not an approval request", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "m", "plain");
    const res = await api<Decision>("POST", `/v1/conversations/${id}/messages/1/decision`, { token: t.tokens.bob!, body: { clientId: "x", decision: "approve" } });
    expectError(res, 404, "not_found");
    expectError(await api("POST", `/v1/conversations/${id}/messages/1/decision`, { token: t.tokens.bob!, body: { clientId: "x", decision: "maybe" } }), 400, "invalid_request");
  });
});
