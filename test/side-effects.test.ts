import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ConversationRoom } from "../workers/conversation-room";
import { runRetention } from "../src/jobs/retention";
import { presenceShard, shardCount } from "../src/domain/notify";
import { roomName } from "../src/protocol/ids";
import { api, BASE, createGroup, eventually, join, ManualClock, sendHttp, setupTenant } from "./helpers";
import type { EndpointCreated, Message, MessagesPage } from "./responses";

const stubOf = (tenantId: string, id: string) => env.ROOMS.getByName(roomName(tenantId, id));
const pdf = () => new TextEncoder().encode("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n");

async function upload(token: string, id: string): Promise<string> {
  const res = await exports.default.fetch(`${BASE}/v1/conversations/${id}/attachments?name=f.pdf`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/pdf" },
    body: pdf(),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function sendFile(token: string, id: string, clientId: string, attachmentId: string) {
  const res = await api<Message>("POST", `/v1/conversations/${id}/messages`, {
    token,
    body: { clientId, kind: "file", body: { attachment: { id: attachmentId, name: "f.pdf", size: 1, contentType: "application/pdf" } } },
  });
  expect(res.status).toBe(201);
  return res.body.seq as number;
}

/** The outbox rows of a conversation and whether its alarm is armed. */
async function outboxOf(tenantId: string, id: string) {
  return runInDurableObject(stubOf(tenantId, id), async (_i, ctx) => ({
    effects: ctx.storage.sql.exec<{ key: string; attempts: number }>(`SELECT key, attempts FROM effects ORDER BY id`).toArray(),
    alarm: await ctx.storage.getAlarm(),
  }));
}

/** Make every pending effect due now (instead of waiting out the retry delay). */
async function makeEffectsDue(tenantId: string, id: string) {
  await runInDurableObject(stubOf(tenantId, id), (room: ConversationRoom) => {
    room.store.effects.retryAllAt(0);
  });
}

afterEach(() => vi.restoreAllMocks());

describe("side effects that must happen go through the durable outbox", () => {
  it("a recalled attachment's bytes are deleted even when R2 fails at first: the effect is kept and retried", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const file = await upload(t.tokens.alice!, id);
    const seq = await sendFile(t.tokens.alice!, id, "f", file);
    const key = `${t.tenantId}/${id}/${file}`;
    // R2 refuses the first deletion.
    await runInDurableObject(stubOf(t.tenantId, id), (room: ConversationRoom) => {
      const real = room.files;
      let failures = 1;
      room.files = {
        delete: async (keys: string | string[]) => {
          if (failures-- > 0) throw new Error("R2 is unavailable");
          return real.delete(keys);
        },
      };
    });
    expect((await api("POST", `/v1/conversations/${id}/messages/${seq}/recall`, { token: t.tokens.alice! })).status).toBe(200);
    await runDurableObjectAlarm(stubOf(t.tenantId, id));
    expect(await env.FILES.head(key)).not.toBeNull();
    const pending = await outboxOf(t.tenantId, id);
    expect(pending.effects).toEqual([{ key: `file:${file}`, attempts: 1 }]);
    expect(pending.alarm).not.toBeNull();

    await makeEffectsDue(t.tenantId, id);
    await runDurableObjectAlarm(stubOf(t.tenantId, id));
    expect(await env.FILES.head(key)).toBeNull();
    expect((await outboxOf(t.tenantId, id)).effects).toEqual([]);
  });

  it("retention removes everything of an expired message: edits, reactions, hidden markers, attachment rows and bytes", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const stub = stubOf(t.tenantId, id);
    const file = await upload(t.tokens.alice!, id);
    // The old messages are written 3 days ago by the room's own clock.
    const clock = new ManualClock(Date.now() - 3 * 86_400_000);
    await runInDurableObject(stub, (room: ConversationRoom) => {
      room.clock = clock;
    });
    const text = (await sendHttp(t.tokens.alice!, id, "old", "first draft")).body.seq as number;
    expect((await api("PATCH", `/v1/conversations/${id}/messages/${text}`, { token: t.tokens.alice!, body: { body: { text: "second draft" } } })).status).toBe(200);
    expect((await api("PUT", `/v1/conversations/${id}/messages/${text}/reactions/%F0%9F%91%8D`, { token: t.tokens.bob! })).status).toBeLessThan(300);
    expect((await api("DELETE", `/v1/conversations/${id}/messages/${text}`, { token: t.tokens.bob! })).status).toBe(204);
    const fileSeq = await sendFile(t.tokens.alice!, id, "old-file", file);
    clock.advance(3 * 86_400_000);
    await sendHttp(t.tokens.alice!, id, "new", "kept");
    expect((await api("PUT", "/v1/tenant/settings", { token: t.apiKey, body: { retentionDays: 1 } })).status).toBe(200);
    await env.DB.prepare("UPDATE conversations SET created_at = ? WHERE id = ?").bind(Date.now() - 4 * 86_400_000, id).run();

    await runRetention(env, Date.now());

    const left = await runInDurableObject(stub, (_i, ctx) => {
      const count = (table: string) => ctx.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE seq <= ?`, fileSeq).one().n;
      return {
        messages: count("messages"),
        edits: count("message_edits"),
        reactions: count("reactions"),
        hidden: count("hidden"),
        attachments: ctx.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM attachments`).one().n,
      };
    });
    expect(left).toEqual({ messages: 0, edits: 0, reactions: 0, hidden: 0, attachments: 0 });
    // The object's own alarm may already be running the outbox (it was armed by the purge); either run deletes the bytes.
    await runDurableObjectAlarm(stub);
    await eventually(async () => {
      expect(await env.FILES.head(`${t.tenantId}/${id}/${file}`)).toBeNull();
      expect((await outboxOf(t.tenantId, id)).effects).toEqual([]);
    });
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.alice! });
    expect(history.body.messages.map((m: { clientId: string }) => m.clientId)).toEqual(["new"]);
  });
});

describe("outbound endpoints", () => {
  it("a created or deleted endpoint applies to the very next event (no cached endpoint list)", async () => {
    const received: { url: string; type: string; seq: unknown }[] = [];
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const request = new Request(input, init);
      if (!request.url.startsWith("http://127.0.0.1:9")) return real(input, init);
      const json = (await request.json()) as { type: string; data: { message?: { seq: number } } };
      received.push({ url: request.url, type: json.type, seq: json.data.message?.seq });
      return new Response(null, { status: 200 });
    });
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const first = await api<EndpointCreated>("POST", "/v1/webhooks", { token: t.apiKey, body: { url: "http://127.0.0.1:9/first", events: ["message.created"] } });
    await sendHttp(t.tokens.alice!, id, "m1", "one");
    await runDurableObjectAlarm(stubOf(t.tenantId, id));
    await eventually(() => Promise.resolve(expect(received).toEqual([{ url: "http://127.0.0.1:9/first", type: "message.created", seq: 1 }])));

    expect((await api("DELETE", `/v1/webhooks/${first.body.id}`, { token: t.apiKey })).status).toBe(204);
    await api("POST", "/v1/webhooks", { token: t.apiKey, body: { url: "http://127.0.0.1:9/second", events: ["message.created"] } });
    await sendHttp(t.tokens.alice!, id, "m2", "two");
    await runDurableObjectAlarm(stubOf(t.tenantId, id));
    await eventually(() => Promise.resolve(expect(received).toHaveLength(2)));
    expect(received[1]).toEqual({ url: "http://127.0.0.1:9/second", type: "message.created", seq: 2 });
  });
});

describe("push while reading", () => {
  it("a member with a socket open on the conversation gets no push for it, and gets one again once it is closed", async () => {
    const calls: { url: string; body: { seq: number; userId: string; conversationId: string } }[] = [];
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!url.startsWith("http://127.0.0.1:9")) return real(input, init);
      calls.push({ url, body: JSON.parse(String(init?.body)) });
      return new Response(null, { status: 200 });
    });
    // Two recipients on the same presence shard, so one hand-over decides for both.
    const shards = shardCount(env.PRESENCE_SHARDS);
    const reader = "bob";
    const other = Array.from({ length: 50 }, (_, i) => `carol${i}`).find((u) => presenceShard(u, shards) === presenceShard(reader, shards))!;
    const t = await setupTenant(["alice", reader, other]);
    const id = await createGroup(t.tokens.alice!, [reader, other]);
    for (const u of [reader, other]) {
      await api("POST", "/v1/devices", { token: t.tokens[u]!, body: { id: "w", platform: "webhook", endpoint: `http://127.0.0.1:9/push/${u}` } });
    }
    const reading = await join(id, t.tokens[reader]!);
    await sendHttp(t.tokens.alice!, id, "m1", "while bob reads");
    // The push to the other recipient shows the hand-over of m1 was decided.
    await eventually(() => Promise.resolve(expect(calls.filter((c) => c.body.userId === other && c.body.seq === 1)).toHaveLength(1)));
    reading.socket.close();
    await reading.socket.waitClosed();
    await sendHttp(t.tokens.alice!, id, "m2", "after bob left");
    await eventually(() => Promise.resolve(expect(calls.filter((c) => c.body.userId === reader)).toHaveLength(1)));
    expect(calls.filter((c) => c.body.userId === reader).map((c) => c.body.seq)).toEqual([2]);
  });
});

describe("the outbox migration", () => {
  it("moves pending outbound events of an existing conversation into the outbox, keeping their event ids", async () => {
    const { MIGRATIONS } = await import("../src/storage/room-schema");
    const { applySqlMigrations } = await import("../src/storage/sql-migrations");
    const { RoomStorage } = await import("../src/storage/room-store");
    const stub = env.ROOMS.get(env.ROOMS.idFromName(`migration-test:${crypto.randomUUID()}`));
    const moved = await runInDurableObject(stub, (_i, ctx) => {
      // The schema as it was before the outbox, with one event waiting.
      applySqlMigrations(ctx.storage, MIGRATIONS.filter((m) => m.version <= 7));
      ctx.storage.sql.exec(`INSERT INTO room (id, tenant_id, conversation_id, type, name, created_by, created_at) VALUES (1, 't', 'g_1', 'group', 'G', 'alice', 1)`);
      ctx.storage.sql.exec(`INSERT INTO outbound (type, payload, created_at) VALUES ('card.action', '{"seq":1,"action":"claim"}', 5)`);
      const store = new RoomStorage(ctx.storage);
      store.header.migrateIfCreated();
      return {
        due: store.effects.due(Date.now(), 10),
        outboundTable: ctx.storage.sql.exec(`SELECT 1 FROM sqlite_master WHERE name = 'outbound'`).toArray().length,
      };
    });
    expect(moved.outboundTable).toBe(0);
    expect(moved.due).toEqual([
      { id: 1, key: "e1", attempts: 0, effect: { kind: "outbound", type: "card.action", payload: { seq: 1, action: "claim" }, createdAt: 5 } },
    ]);
  });
});
