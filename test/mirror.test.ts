import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createGroup, join, sendHttp, setupTenant } from "./helpers";
import { roomName } from "../src/protocol/ids";
import { mirrorStatements } from "../src/storage/conversations";
import { RoomStorage } from "../src/storage/room-store";
import type { ConversationList, User } from "./responses";

const stubOf = (tenantId: string, id: string) => env.ROOMS.getByName(roomName(tenantId, id));

async function listed(token: string) {
  return (await api<ConversationList>("GET", "/v1/conversations", { token })).body.conversations as {
    id: string;
    lastSeq: number;
    readSeq: number;
    unread: number;
    members: string[];
    lastMessage: { seq: number; preview: string } | null;
  }[];
}

describe("the D1 mirror of conversations", () => {
  it("lists my conversations with last message, read cursor and unread count, most recent activity first", async () => {
    const t = await setupTenant();
    const older = await createGroup(t.tokens.alice!, ["bob"], "Older");
    const newer = await createGroup(t.tokens.alice!, ["bob", "carol"], "Newer");
    await sendHttp(t.tokens.alice!, older, "o1", "first");
    await sendHttp(t.tokens.alice!, newer, "n1", "second");
    await sendHttp(t.tokens.alice!, newer, "n2", "third");
    const bobs = await listed(t.tokens.bob!);
    expect(bobs.map((c) => c.id)).toEqual([newer, older]);
    expect(bobs[0]).toMatchObject({ name: "Newer", lastSeq: 2, readSeq: 0, unread: 2, members: ["alice", "bob", "carol"] });
    expect(bobs[0]!.lastMessage).toMatchObject({ seq: 2, preview: "third", body: { text: "third" } });
    // The sender has read what they sent.
    expect((await listed(t.tokens.alice!))[0]).toMatchObject({ lastSeq: 2, readSeq: 2, unread: 0 });
    // A new message moves the older conversation to the top.
    await sendHttp(t.tokens.bob!, older, "o2", "bump");
    expect((await listed(t.tokens.carol!)).map((c) => c.id)).toEqual([newer]);
    expect((await listed(t.tokens.bob!)).map((c) => c.id)).toEqual([older, newer]);
  });

  it("catches up with WebSocket traffic through the outbox alarm", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = await join(id, t.tokens.alice!);
    for (let i = 1; i <= 20; i++) alice.socket.send({ type: "send", clientId: `w${i}`, kind: "text", body: { text: `w${i}` } });
    for (let i = 1; i <= 20; i++) await alice.socket.next("ack");
    alice.socket.send({ type: "read", seq: 20 });
    await runDurableObjectAlarm(stubOf(t.tenantId, id));
    const [row] = await listed(t.tokens.bob!);
    expect(row).toMatchObject({ id, lastSeq: 20, unread: 20 });
    alice.socket.close();
  });

  it("retries a failed flush with backoff and applies it once D1 is back", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = await join(id, t.tokens.alice!);
    await env.DB.exec("ALTER TABLE conversations RENAME TO conversations_away");
    try {
      alice.socket.send({ type: "send", clientId: "during-outage", kind: "text", body: { text: "kept" } });
      expect(await alice.socket.next("ack")).toMatchObject({ seq: 1 });
      await runDurableObjectAlarm(stubOf(t.tenantId, id));
      const state = await runInDurableObject(stubOf(t.tenantId, id), async (_instance, ctx) => ({
        attempts: ctx.storage.sql.exec<{ a: number }>("SELECT mirror_attempts AS a FROM room").one().a,
        alarm: await ctx.storage.getAlarm(),
      }));
      expect(state.attempts).toBe(1);
      expect(state.alarm).not.toBeNull();
    } finally {
      await env.DB.exec("ALTER TABLE conversations_away RENAME TO conversations");
    }
    await runDurableObjectAlarm(stubOf(t.tenantId, id));
    expect((await listed(t.tokens.bob!))[0]).toMatchObject({ id, lastSeq: 1, lastMessage: { preview: "kept" } });
    alice.socket.close();
  });

  it("changes nothing when a flush is replayed, and never lets an older copy overwrite a newer one", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const stub = stubOf(t.tenantId, id);
    await sendHttp(t.tokens.alice!, id, "a", "one");
    const old = await runInDurableObject(stub, (_i, ctx) => {
      const store = new RoomStorage(ctx.storage);
      // Pretend nothing was mirrored yet, to capture a full snapshot at this version.
      ctx.storage.sql.exec("UPDATE room SET mirrored_version = 0");
      return store.mirror.snapshot();
    });
    expect(old).not.toBeNull();
    await sendHttp(t.tokens.alice!, id, "b", "two");
    await api("POST", `/v1/conversations/${id}/read`, { token: t.tokens.bob!, body: { seq: 2 } });
    const before = await env.DB.prepare("SELECT * FROM conversations WHERE id = ?").bind(id).all();
    const membersBefore = await env.DB.prepare("SELECT * FROM memberships WHERE conversation_id = ? ORDER BY user_id").bind(id).all();
    // Replaying the stale snapshot twice: nothing moves backwards.
    await env.DB.batch(mirrorStatements(env.DB, old!));
    await env.DB.batch(mirrorStatements(env.DB, old!));
    expect((await env.DB.prepare("SELECT * FROM conversations WHERE id = ?").bind(id).all()).results).toEqual(before.results);
    expect((await env.DB.prepare("SELECT * FROM memberships WHERE conversation_id = ? ORDER BY user_id").bind(id).all()).results).toEqual(
      membersBefore.results,
    );
    expect((await listed(t.tokens.bob!))[0]).toMatchObject({ lastSeq: 2, readSeq: 2, unread: 0 });
  });

  it("mirrors a group larger than D1's 100 bound parameters in one flush", async () => {
    const users = Array.from({ length: 150 }, (_, i) => `u${i}`);
    const t = await setupTenant(["alice"]);
    for (const u of users) await api<User>("PUT", `/v1/users/${u}`, { token: t.apiKey, body: { name: u } });
    const id = await createGroup(t.tokens.alice!, users);
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND conversation_id = ?").bind(t.tenantId, id).first<{ n: number }>();
    expect(rows?.n).toBe(151);
  });

  it("removes a member's row when they leave", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob", "carol"]);
    await api("DELETE", `/v1/conversations/${id}/members/carol`, { token: t.tokens.carol! });
    expect(await listed(t.tokens.carol!)).toEqual([]);
    expect((await listed(t.tokens.bob!))[0]!.members).toEqual(["alice", "bob"]);
  });
});

describe("history flush size", () => {
  it("bounds each flush by the UTF-8 size of what it binds, and still copies a long CJK backlog", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const text = "跟进客户合同续签".repeat(625); // 5,000 CJK characters: 15 KB of UTF-8, about 85 KB as a history row
    const stub = stubOf(t.tenantId, id);
    for (let i = 0; i < 12; i++) await sendHttp(t.tokens.alice!, id, `c${i}`, text);
    const sizes = await runInDurableObject(stub, (_i, ctx) => {
      ctx.storage.sql.exec("UPDATE room SET mirrored_seq = 0, mirrored_version = 0");
      const snapshot = new RoomStorage(ctx.storage).mirror.snapshot()!;
      return { rows: snapshot.history.length, bytes: new TextEncoder().encode(JSON.stringify(snapshot.history)).byteLength };
    });
    expect(sizes.rows).toBeGreaterThan(0);
    expect(sizes.rows).toBeLessThan(12);
    expect(sizes.bytes).toBeLessThanOrEqual(900 * 1024);
    for (let i = 0; i < 10; i++) await runDurableObjectAlarm(stub);
    const n = await env.DB.prepare("SELECT count(*) AS n FROM messages WHERE conversation_id = ?").bind(id).first<{ n: number }>();
    expect(n?.n).toBe(12);
  });
});
