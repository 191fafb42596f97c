import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createGroup, join, manualRoomClock, setupTenant, type TestSocket } from "./helpers";
import { roomName } from "../src/protocol/ids";
import { RoomStorage } from "../src/storage/room-store";
import type { ConversationRoom } from "../workers/conversation-room";
import type { Conversation, ConversationList, MessagesPage } from "./responses";

/**
 * An append writes its message row only; the room's head and the sender's read cursor move in memory
 * and are written with the next write of the room row. These tests check that a restarted object
 * recovers both from the log exactly, and that the D1 mirror still copies the same rows.
 */

const stubOf = (tenantId: string, id: string) => env.ROOMS.getByName(roomName(tenantId, id));

/**
 * Keep the object's outbox from arming its alarm (whose flush writes the room row), so the appends
 * that follow stay in memory only, as in an object evicted before its alarm ran. The next instance
 * of the object (after an eviction) has an outbox of its own.
 */
async function holdAlarm(tenantId: string, id: string): Promise<void> {
  await runInDurableObject(stubOf(tenantId, id), async (room: ConversationRoom, ctx) => {
    (room as unknown as { outbox: { schedule(delayMs: number): void } }).outbox.schedule = () => undefined;
    await ctx.storage.deleteAlarm();
  });
}

async function send(socket: TestSocket, clientId: string, text: string): Promise<number> {
  socket.send({ type: "send", clientId, kind: "text", body: { text } });
  const ack = await socket.next((f) => f.type === "ack" && f.clientId === clientId);
  return (ack as unknown as { seq: number }).seq;
}

/** React, and wait for the reaction's `system` event. */
async function react(socket: TestSocket, seq: number, emoji: string): Promise<number> {
  socket.send({ type: "react", seq, emoji });
  const frame = await socket.next((f) => f.type === "message" && f.message.kind === "system" && f.message.body.target === seq && f.message.body.emoji === emoji);
  return (frame as unknown as { message: { seq: number } }).message.seq;
}

const HEAD = `SELECT version, last_seq AS lastSeq, last_ts AS lastTs, countable_total AS countableTotal FROM room`;
const MEMBER_ROWS = `SELECT user_id AS userId, read_seq AS readSeq, read_ordinal AS readOrdinal, version FROM members WHERE active = 1 ORDER BY user_id`;

class Rollback extends Error {}

/**
 * In one synchronous turn: the live object's head and read cursors, and what a fresh RoomStorage on
 * the same SQLite (a restarted object) recovers from it. The rows each would store are compared too:
 * the fresh store's writes are rolled back, then the live store writes its own (as a flush would).
 */
async function liveAndRecovered(tenantId: string, id: string) {
  return runInDurableObject(stubOf(tenantId, id), (room: ConversationRoom, ctx) => {
    const sql = ctx.storage.sql;
    const stored = { head: sql.exec(HEAD).one(), members: sql.exec(MEMBER_ROWS).toArray() };
    const headOf = (s: RoomStorage) => {
      const r = s.header.require();
      return { version: r.version, lastSeq: r.lastSeq, lastTs: r.lastTs, countableTotal: r.countableTotal };
    };
    const cursorsOf = (s: RoomStorage) =>
      Object.fromEntries([...s.members.active().values()].map((m) => [m.userId, { readSeq: m.readSeq, readOrdinal: m.readOrdinal }]));
    const fresh = new RoomStorage(ctx.storage);
    const recovered = { head: headOf(fresh), cursors: cursorsOf(fresh), rows: undefined as unknown, storedHead: undefined as unknown };
    try {
      ctx.storage.transactionSync(() => {
        fresh.header.persist();
        recovered.rows = sql.exec(MEMBER_ROWS).toArray();
        recovered.storedHead = sql.exec(HEAD).one();
        throw new Rollback();
      });
    } catch (err) {
      if (!(err instanceof Rollback)) throw err;
    }
    const live = { head: headOf(room.store), cursors: cursorsOf(room.store), rows: undefined as unknown, storedHead: undefined as unknown };
    const rolledBack = sql.exec(HEAD).one();
    room.store.header.persist();
    live.rows = sql.exec(MEMBER_ROWS).toArray();
    live.storedHead = sql.exec(HEAD).one();
    return { stored, rolledBack, recovered, live };
  });
}

describe("the room head kept in memory", () => {
  it("is recovered from the log by a restarted object: head, senders' read cursors, ordinals and versions", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const clock = await manualRoomClock(t.tenantId, id);
    await holdAlarm(t.tenantId, id);
    const alice = (await join(id, t.tokens.alice!)).socket;
    const bob = (await join(id, t.tokens.bob!)).socket;
    const sent: Record<string, { seq: number; ts: number }> = {};
    const say = async (socket: TestSocket, who: string, clientId: string) => {
      clock.advance(1_000);
      sent[who] = { seq: await send(socket, clientId, clientId), ts: clock.now() };
      return sent[who].seq;
    };

    // Messages from two senders, with reactions (system events, not counted as unread) among them.
    const a1 = await say(alice, "alice", "a1");
    await say(bob, "bob", "b1");
    await say(alice, "alice", "a2");
    clock.advance(1_000);
    await react(bob, a1, "👍");
    await say(bob, "bob", "b2");
    await say(alice, "alice", "a3");
    clock.advance(1_000);
    const lastEvent = await react(bob, a1, "🎉");
    const first = await liveAndRecovered(t.tenantId, id);
    // Nothing but the message rows was written since the conversation was created.
    expect(first.stored.head).toMatchObject({ version: 1, lastSeq: 0, countableTotal: 0 });
    expect(first.stored.members.every((m) => m.readSeq === 0)).toBe(true);
    expect(first.live.head).toEqual({ version: 1 + 7, lastSeq: lastEvent, lastTs: sent.alice!.ts, countableTotal: 5 });
    expect(first.live.cursors).toEqual({ alice: { readSeq: sent.alice!.seq, readOrdinal: 5 }, bob: { readSeq: sent.bob!.seq, readOrdinal: 4 } });
    expect(first.recovered.head).toEqual(first.live.head);
    expect(first.recovered.cursors).toEqual(first.live.cursors);
    expect(first.rolledBack).toEqual(first.stored.head);
    expect(first.recovered.storedHead).toEqual(first.live.storedHead);
    expect(first.recovered.rows).toEqual(first.live.rows);
    // Each sender's row carries the version of their last append, the room's version at that message.
    expect(first.live.rows).toEqual([
      { userId: "alice", readSeq: sent.alice!.seq, readOrdinal: 5, version: 1 + sent.alice!.seq },
      { userId: "bob", readSeq: sent.bob!.seq, readOrdinal: 4, version: 1 + sent.bob!.seq },
    ]);

    // A member added in between (the room row is written then), a read, and more appends after it.
    expect((await api("POST", `/v1/conversations/${id}/members`, { token: t.tokens.alice!, body: { userIds: ["carol"] } })).status).toBe(200);
    const carol = (await join(id, t.tokens.carol!)).socket;
    await say(carol, "carol", "c1");
    await say(alice, "alice", "a4");
    bob.send({ type: "read", seq: sent.alice!.seq });
    await bob.drain();
    await say(carol, "carol", "c2");
    clock.advance(1_000);
    await react(alice, sent.carol!.seq, "👀");
    await say(alice, "alice", "a5");
    const second = await liveAndRecovered(t.tenantId, id);
    expect(second.stored.head.lastSeq).toBeLessThan(second.live.head.lastSeq);
    expect(second.recovered.head).toEqual(second.live.head);
    expect(second.recovered.cursors).toEqual(second.live.cursors);
    expect(second.recovered.rows).toEqual(second.live.rows);
    expect(second.recovered.storedHead).toEqual(second.live.storedHead);
    expect(second.live.storedHead).toEqual(second.live.head);
    expect(second.live.head).toMatchObject({ lastTs: sent.alice!.ts, countableTotal: 9 });
    expect(second.live.cursors).toEqual({
      alice: { readSeq: sent.alice!.seq, readOrdinal: 9 },
      bob: { readSeq: 10, readOrdinal: 7 },
      carol: { readSeq: sent.carol!.seq, readOrdinal: 8 },
    });
    for (const s of [alice, bob, carol]) s.close();
  });

  it("appends a message with one statement, its row", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const written = await runInDurableObject(stubOf(t.tenantId, id), (_room: ConversationRoom, ctx) => {
      const statements: string[] = [];
      const sql = { exec: (query: string, ...bindings: unknown[]) => (statements.push(query), ctx.storage.sql.exec(query, ...bindings)) } as unknown as SqlStorage;
      const store = new RoomStorage({ sql } as unknown as DurableObjectStorage);
      const out: string[][] = [];
      try {
        ctx.storage.transactionSync(() => {
          store.header.require();
          store.members.active();
          const now = Date.now();
          for (const [sender, kind] of [
            ["alice", "text"],
            ["bob", "text"],
            ["system", "system"],
            ["alice", "text"],
          ] as const) {
            statements.length = 0;
            const result = store.log.append({ sender, clientId: crypto.randomUUID(), content: { kind, body: kind === "system" ? { event: "members_added", actor: "alice", userIds: [] } : { text: "hi" } }, now } as never);
            expect(result.status).toBe("created");
            out.push(statements.map((s) => s.trim().split(/\s+/).slice(0, 3).join(" ")));
          }
          // A retry inserts nothing and reads the stored message back.
          statements.length = 0;
          const retry = store.log.append({ sender: "bob", clientId: "once", content: { kind: "text", body: { text: "hi" } }, now: Date.now() });
          expect(retry.status).toBe("created");
          statements.length = 0;
          expect(store.log.append({ sender: "bob", clientId: "once", content: { kind: "text", body: { text: "hi" } }, now: Date.now() }).status).toBe("duplicate");
          out.push(statements.map((s) => s.trim().split(/\s+/).slice(0, 3).join(" ")));
          throw new Rollback();
        });
      } catch (err) {
        if (!(err instanceof Rollback)) throw err;
      }
      return out;
    });
    expect(written).toEqual([["INSERT INTO messages"], ["INSERT INTO messages"], ["INSERT INTO messages"], ["INSERT INTO messages"], ["INSERT INTO messages", "SELECT * FROM"]]);
  });

  it("after an eviction, goes on gaplessly, answers retries, and the mirror copies the recovered head, unread counts and read cursors", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob", "carol"]);
    const stub = stubOf(t.tenantId, id);
    await holdAlarm(t.tenantId, id);
    const alice = (await join(id, t.tokens.alice!)).socket;
    const bob = (await join(id, t.tokens.bob!)).socket;
    for (let i = 1; i <= 6; i++) await send(i % 3 === 0 ? bob : alice, `m${i}`, `before ${i}`);
    await react(bob, 1, "👍");
    const before = await runInDurableObject(stub, (room: ConversationRoom, ctx) => ({
      live: room.store.header.require().lastSeq,
      stored: ctx.storage.sql.exec<{ s: number }>(`SELECT last_seq AS s FROM room`).one().s,
    }));
    expect(before).toEqual({ live: 7, stored: 0 });

    // The instance goes away with its memory; the sockets hibernate and wake the next one, whose
    // alarm is held too: the flush below is the HTTP path's, with nothing written before it.
    await evictDurableObject(stub);
    await holdAlarm(t.tenantId, id);
    expect(await send(alice, "m1", "before 1")).toBe(1);
    expect(await send(bob, "after-1", "after 1")).toBe(8);
    expect(await send(alice, "after-2", "after 2")).toBe(9);
    await react(alice, 8, "🎉");
    const stale = await runInDurableObject(stub, (_room: ConversationRoom, ctx) => ctx.storage.sql.exec<{ s: number }>(`SELECT last_seq AS s FROM room`).one().s);
    expect(stale).toBe(0);
    // An HTTP send flushes the mirror before it answers.
    expect((await api("POST", `/v1/conversations/${id}/messages`, { token: t.tokens.bob!, body: { clientId: "after-3", kind: "text", body: { text: "after 3" } } })).body).toMatchObject({ seq: 11 });

    const history = (await api<MessagesPage>("GET", `/v1/conversations/${id}/messages?after=0&limit=100`, { token: t.tokens.carol! })).body.messages;
    expect(history.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const countable = history.filter((m) => m.kind !== "system");
    const lastOf = (user: string) => Math.max(0, ...history.filter((m) => m.sender === user).map((m) => m.seq));
    const unreadOf = (user: string) => countable.filter((m) => m.seq > lastOf(user)).length;

    const conversation = await env.DB.prepare("SELECT last_seq, message_count, last_message FROM conversations WHERE tenant_id = ? AND id = ?")
      .bind(t.tenantId, id)
      .first<{ last_seq: number; message_count: number; last_message: string }>();
    expect(conversation).toMatchObject({ last_seq: 11, message_count: 9 });
    expect(JSON.parse(conversation!.last_message)).toMatchObject({ seq: 11 });
    const rows = (
      await env.DB.prepare("SELECT user_id, read_seq, read_count FROM memberships WHERE tenant_id = ? AND conversation_id = ? ORDER BY user_id").bind(t.tenantId, id).all()
    ).results;
    expect(rows).toEqual([
      { user_id: "alice", read_seq: lastOf("alice"), read_count: countable.filter((m) => m.seq <= lastOf("alice")).length },
      { user_id: "bob", read_seq: lastOf("bob"), read_count: countable.filter((m) => m.seq <= lastOf("bob")).length },
      { user_id: "carol", read_seq: 0, read_count: 0 },
    ]);
    expect(rows.map((r) => r.read_seq)).toEqual([9, 11, 0]);
    for (const [user, token] of Object.entries(t.tokens)) {
      const listed = (await api<ConversationList>("GET", "/v1/conversations", { token })).body.conversations;
      expect(listed.find((c) => c.id === id), user).toMatchObject({ lastSeq: 11, readSeq: lastOf(user), unread: unreadOf(user) });
      const view = (await api<Conversation>("GET", `/v1/conversations/${id}`, { token })).body;
      expect(view, user).toMatchObject({ lastSeq: 11, readSeq: lastOf(user), unread: unreadOf(user) });
    }
    // The flush wrote the head it copied: the stored row is current again.
    const stored = await runInDurableObject(stub, (room: ConversationRoom, ctx) => ({
      row: ctx.storage.sql.exec(HEAD).one(),
      live: { ...room.store.header.require() },
    }));
    expect(stored.row).toEqual({ version: stored.live.version, lastSeq: 11, lastTs: stored.live.lastTs, countableTotal: 9 });
    alice.close();
    bob.close();
  });
});
