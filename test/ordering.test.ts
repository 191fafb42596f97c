import { env } from "cloudflare:workers";
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createGroup, join, sendHttp, setupTenant } from "./helpers";
import { roomName } from "../src/protocol/ids";
import type { MessagesPage } from "./responses";

/** DESIGN.md invariants 1-4: gapless order, durability, idempotent sends, exact resume. */
describe("ordering and delivery", () => {
  it("numbers messages 1, 2, 3 without gaps and every member sees them in seq order, with two senders at once", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob", "carol"]);
    const alice = await join(id, t.tokens.alice!);
    const bob = await join(id, t.tokens.bob!);
    const carol = await join(id, t.tokens.carol!);
    const perSender = 40;
    for (let i = 0; i < perSender; i++) {
      alice.socket.send({ type: "send", clientId: `a${i}`, kind: "text", body: { text: `a${i}` } });
      bob.socket.send({ type: "send", clientId: `b${i}`, kind: "text", body: { text: `b${i}` } });
    }
    for (const s of [alice, bob, carol]) {
      const seqs = (await s.socket.messages(perSender * 2)).map((m) => m.seq);
      expect(seqs).toEqual(Array.from({ length: perSender * 2 }, (_, i) => i + 1));
    }
    // Each sender's own messages keep the order they were sent in.
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages?limit=200`, { token: t.tokens.carol! });
    const fromAlice = history.body.messages.filter((m: { sender: string }) => m.sender === "alice").map((m: { clientId: string }) => m.clientId);
    expect(fromAlice).toEqual(Array.from({ length: perSender }, (_, i) => `a${i}`));
    for (const s of [alice, bob, carol]) s.socket.close();
  });

  it("acks a retried WebSocket send with the original seq and stores nothing new", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = await join(id, t.tokens.alice!);
    const bob = await join(id, t.tokens.bob!);
    const frame = { type: "send", clientId: "retry-me", kind: "text", body: { text: "once" } };
    alice.socket.send(frame);
    const first = await alice.socket.next("ack");
    alice.socket.send(frame);
    const second = await alice.socket.next("ack");
    expect(second).toEqual(first);
    expect((await bob.socket.messages(1))[0]!.seq).toBe(1);
    expect((await bob.socket.drain()).filter((f) => f.type === "message")).toEqual([]);
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.bob! });
    expect(history.body.messages).toHaveLength(1);
    alice.socket.close();
    bob.socket.close();
  });

  it("answers a retried HTTP send with 200 and the same message, and the WebSocket path recognises it too", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const first = await sendHttp(t.tokens.alice!, id, "http-1", "hello");
    expect(first.status).toBe(201);
    const again = await sendHttp(t.tokens.alice!, id, "http-1", "hello");
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const alice = await join(id, t.tokens.alice!, { after: 1 });
    alice.socket.send({ type: "send", clientId: "http-1", kind: "text", body: { text: "hello" } });
    expect(await alice.socket.next("ack")).toMatchObject({ clientId: "http-1", seq: 1 });
    // The same clientId from another sender is a different message.
    const bobs = await sendHttp(t.tokens.bob!, id, "http-1", "mine");
    expect(bobs.status).toBe(201);
    expect(bobs.body.seq).toBe(2);
    alice.socket.close();
  });

  it("replays exactly the missed messages to a client that reconnects with after=", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    for (let i = 1; i <= 5; i++) await sendHttp(t.tokens.alice!, id, `m${i}`, `m${i}`);
    const bob = await join(id, t.tokens.bob!, { after: 2 });
    expect(bob.ready).toMatchObject({ type: "ready", conversationId: id, lastSeq: 5 });
    expect((await bob.socket.messages(3)).map((m) => m.seq)).toEqual([3, 4, 5]);
    await sendHttp(t.tokens.alice!, id, "m6", "live");
    expect((await bob.socket.messages(1))[0]).toMatchObject({ seq: 6, body: { text: "live" } });
    expect((await bob.socket.drain()).filter((f) => f.type === "message")).toEqual([]);
    bob.socket.close();
    const fresh = await join(id, t.tokens.bob!, { after: 6 });
    expect((await fresh.socket.drain()).filter((f) => f.type === "message")).toEqual([]);
    fresh.socket.close();
  });

  it("pages history by seq in ascending order", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    for (let i = 1; i <= 12; i++) await sendHttp(t.tokens.alice!, id, `p${i}`, `p${i}`);
    const seqs = async (q: string) =>
      (await api<MessagesPage>("GET", `/v1/conversations/${id}/messages?${q}`, { token: t.tokens.bob! })).body.messages.map((m: { seq: number }) => m.seq);
    expect(await seqs("after=3&limit=4")).toEqual([4, 5, 6, 7]);
    expect(await seqs("before=5")).toEqual([1, 2, 3, 4]);
    expect(await seqs("limit=3")).toEqual([10, 11, 12]);
    expect(await seqs("after=2&before=6&limit=50")).toEqual([3, 4, 5]);
    expect(await seqs("after=12")).toEqual([]);
  });

  it("keeps every acknowledged message, the seq counter and idempotency keys across hibernation", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = await join(id, t.tokens.alice!);
    const bob = await join(id, t.tokens.bob!);
    alice.socket.send({ type: "send", clientId: "before", kind: "text", body: { text: "before" } });
    expect(await alice.socket.next("ack")).toMatchObject({ seq: 1 });
    await bob.socket.messages(1);

    await evictDurableObject(env.ROOMS.getByName(roomName(t.tenantId, id)), { webSockets: "hibernate" });

    // Sockets stay open through hibernation; the object wakes on the next frame.
    alice.socket.send({ type: "send", clientId: "before", kind: "text", body: { text: "before" } });
    expect(await alice.socket.next("ack")).toMatchObject({ clientId: "before", seq: 1 });
    alice.socket.send({ type: "send", clientId: "after", kind: "text", body: { text: "after" } });
    expect(await alice.socket.next("ack")).toMatchObject({ clientId: "after", seq: 2 });
    expect((await bob.socket.messages(1))[0]).toMatchObject({ seq: 2, sender: "alice" });
    expect(alice.socket.closed).toBeUndefined();
    expect(bob.socket.closed).toBeUndefined();

    const retried = await sendHttp(t.tokens.alice!, id, "after", "after");
    expect(retried.status).toBe(200);
    expect(retried.body.seq).toBe(2);
    alice.socket.close();
    bob.socket.close();
  });

  it("keeps acknowledged messages when the object is evicted with its sockets closed", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = await join(id, t.tokens.alice!);
    for (let i = 1; i <= 3; i++) alice.socket.send({ type: "send", clientId: `k${i}`, kind: "text", body: { text: `k${i}` } });
    for (let i = 1; i <= 3; i++) await alice.socket.next("ack");
    await evictDurableObject(env.ROOMS.getByName(roomName(t.tenantId, id)), { webSockets: "close" });
    await alice.socket.waitClosed();
    const again = await join(id, t.tokens.bob!, { after: 0 });
    expect(again.ready.lastSeq).toBe(3);
    expect((await again.socket.messages(3)).map((m) => m.clientId)).toEqual(["k1", "k2", "k3"]);
    again.socket.close();
  });
});
