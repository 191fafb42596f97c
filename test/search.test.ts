import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createGroup, expectError, join, sendHttp, setupTenant } from "./helpers";
import { roomName } from "../src/protocol/ids";
import { RoomStorage } from "../src/storage/room-store";
import { mirrorStatements } from "../src/storage/conversations";
import { cjkGrams, compileQuery } from "../src/domain/search";
import { searchMessages } from "../src/storage/search";
import type { ConversationSearch, MessageSearch, MessagesPage, TenantSettings } from "./responses";

type Hit = { message: { conversationId: string; seq: number; sender: string; body: { text?: string } }; snippet: string };

async function search(token: string, q: string, extra = "") {
  const res = await api<MessageSearch>("GET", `/v1/search/messages?q=${encodeURIComponent(q)}${extra}`, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { hits: Hit[]; nextCursor: string | null; capped: boolean };
}
const texts = (r: { hits: Hit[] }) => r.hits.map((h) => h.message.body.text);

async function seedChat() {
  const t = await setupTenant(["alice", "bob", "carol", "dave"]);
  const sales = await createGroup(t.tokens.alice!, ["bob", "carol"], "Sales APAC");
  const lines = [
    "Quarterly Forecast looks strong",
    "请跟进这个线索，客户是上海的",
    "見積書を送りました",
    "회의는 내일 오전입니다",
    "forecast meeting moved",
    "OK see you",
  ];
  for (const [i, text] of lines.entries()) await sendHttp(t.tokens.alice!, sales, `s${i}`, text);
  const secret = await createGroup(t.tokens.dave!, ["alice"], "Board");
  await sendHttp(t.tokens.dave!, secret, "b1", "forecast for the board only");
  return { t, sales, secret };
}

describe("message search", () => {
  it("finds Latin words case-insensitively, newest first, with a highlighted snippet", async () => {
    const { t } = await seedChat();
    const res = await search(t.tokens.bob!, "FORECAST");
    expect(texts(res)).toEqual(["forecast meeting moved", "Quarterly Forecast looks strong"]);
    expect(res.hits[1]!.snippet).toContain("<mark>Forecast</mark>");
  });

  it("finds substrings of Chinese, Japanese and Korean text of two and of three or more characters", async () => {
    const { t } = await seedChat();
    expect(texts(await search(t.tokens.bob!, "线索"))).toEqual(["请跟进这个线索，客户是上海的"]);
    expect(texts(await search(t.tokens.bob!, "跟进这个"))).toEqual(["请跟进这个线索，客户是上海的"]);
    expect(texts(await search(t.tokens.bob!, "見積"))).toEqual(["見積書を送りました"]);
    expect(texts(await search(t.tokens.bob!, "送りました"))).toEqual(["見積書を送りました"]);
    expect(texts(await search(t.tokens.bob!, "회의"))).toEqual(["회의는 내일 오전입니다"]);
    expect(texts(await search(t.tokens.bob!, "내일 오전"))).toEqual(["회의는 내일 오전입니다"]);
    expect(texts(await search(t.tokens.bob!, "海"))).toEqual(["请跟进这个线索，客户是上海的"]);
    expect((await search(t.tokens.bob!, "线索"))!.hits[0]!.snippet).toContain("<mark>线索</mark>");
  });

  it("matches short Latin words as whole words", async () => {
    const { t } = await seedChat();
    expect(texts(await search(t.tokens.bob!, "ok"))).toEqual(["OK see you"]);
    expect(texts(await search(t.tokens.bob!, "oo"))).toEqual([]);
  });

  it("finds only messages of conversations the caller is a member of", async () => {
    const { t, secret } = await seedChat();
    expect(texts(await search(t.tokens.alice!, "forecast"))).toContain("forecast for the board only");
    expect(texts(await search(t.tokens.bob!, "forecast"))).not.toContain("forecast for the board only");
    expect(texts(await search(t.tokens.carol!, "board"))).toEqual([]);
    expect(texts(await search(t.tokens.alice!, "forecast", `&conversationId=${secret}`))).toEqual(["forecast for the board only"]);
    expect(texts(await search(t.tokens.bob!, "forecast", `&conversationId=${secret}`))).toEqual([]);
  });

  it("leaves out messages the caller deleted for themself, and only for them", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "h1", "forecast kept");
    await sendHttp(t.tokens.alice!, id, "h2", "forecast deleted for bob");
    expect((await api("DELETE", `/v1/conversations/${id}/messages/2`, { token: t.tokens.bob! })).status).toBe(204);
    expect(texts(await search(t.tokens.bob!, "forecast"))).toEqual(["forecast kept"]);
    expect(texts(await search(t.tokens.bob!, "forecast", "&limit=1"))).toEqual(["forecast kept"]);
    expect(texts(await search(t.tokens.alice!, "forecast"))).toEqual(["forecast deleted for bob", "forecast kept"]);
  });

  it("stops finding a conversation's messages once the caller is removed from it", async () => {
    const { t, sales } = await seedChat();
    expect(texts(await search(t.tokens.carol!, "forecast")).length).toBe(2);
    await api("DELETE", `/v1/conversations/${sales}/members/carol`, { token: t.tokens.alice! });
    await sendHttp(t.tokens.alice!, sales, "after", "forecast after carol left");
    expect(texts(await search(t.tokens.carol!, "forecast"))).toEqual([]);
    expect(texts(await search(t.tokens.bob!, "forecast"))[0]).toBe("forecast after carol left");
  });

  it("never shows another tenant's messages, even for the same user ids", async () => {
    const a = await seedChat();
    const b = await setupTenant(["alice", "bob"]);
    const id = await createGroup(b.tokens.alice!, ["bob"]);
    await sendHttp(b.tokens.alice!, id, "x", "forecast in tenant b");
    expect(texts(await search(b.tokens.bob!, "forecast"))).toEqual(["forecast in tenant b"]);
    expect(texts(await search(a.t.tokens.bob!, "forecast"))).not.toContain("forecast in tenant b");
  });

  it("filters by sender, kind and date", async () => {
    const { t, sales } = await seedChat();
    await sendHttp(t.tokens.bob!, sales, "bob1", "forecast from bob");
    expect(texts(await search(t.tokens.carol!, "forecast", "&from=bob"))).toEqual(["forecast from bob"]);
    expect(texts(await search(t.tokens.carol!, "forecast", "&kind=log"))).toEqual([]);
    expect(texts(await search(t.tokens.carol!, "forecast", `&after=${Date.now() + 60_000}`))).toEqual([]);
    expect(texts(await search(t.tokens.carol!, "forecast", "&before=2000-01-01"))).toEqual([]);
    expectError(await api("GET", "/v1/search/messages?q=forecast&before=yesterday", { token: t.tokens.carol! }), 400, "invalid_request");
    expectError(await api("GET", "/v1/search/messages?q=forecast&kind=fax", { token: t.tokens.carol! }), 400, "invalid_request");
  });

  it("pages with a cursor, newest first, without repeats", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    for (let i = 0; i < 7; i++) await sendHttp(t.tokens.alice!, id, `p${i}`, `pipeline item ${i}`);
    const first = await search(t.tokens.bob!, "pipeline", "&limit=3");
    expect(texts(first)).toEqual(["pipeline item 6", "pipeline item 5", "pipeline item 4"]);
    const second = await search(t.tokens.bob!, "pipeline", `&limit=3&cursor=${first.nextCursor}`);
    expect(texts(second)).toEqual(["pipeline item 3", "pipeline item 2", "pipeline item 1"]);
    const third = await search(t.tokens.bob!, "pipeline", `&limit=3&cursor=${second.nextCursor}`);
    expect(texts(third)).toEqual(["pipeline item 0"]);
    expect(third.nextCursor).toBeNull();
  });

  it("examines a bounded window of matches per request and pages on past matches the caller cannot see", async () => {
    const t = await setupTenant(["alice", "bob", "carol"]);
    const mine = await createGroup(t.tokens.alice!, ["bob"]);
    const theirs = await createGroup(t.tokens.alice!, ["carol"]);
    for (let i = 0; i < 2; i++) await sendHttp(t.tokens.alice!, mine, `m${i}`, `audit trail ${i}`);
    for (let i = 0; i < 6; i++) await sendHttp(t.tokens.alice!, theirs, `t${i}`, `audit hidden ${i}`);
    const q = compileQuery("audit");
    if (!q.ok) throw new Error(q.message);
    // Both plans: from bob's conversations (he sees few messages) and from the index (visibleMax 0).
    for (const visibleMax of [undefined, 0]) {
      const page = (cursor?: number) =>
        searchMessages(env.DB, { tenantId: t.tenantId, userId: "bob", trigram: q.trigram, grams: q.grams, limit: 5, cursor, scanMax: 3, visibleMax });
      const first = await page();
      expect(first).toMatchObject({ hits: [], capped: true });
      const second = await page(first.next!);
      expect(second).toMatchObject({ hits: [], capped: true });
      expect(second.next!).toBeLessThan(first.next!);
      const third = await page(second.next!);
      expect(third.hits.map((h) => h.text)).toEqual(["audit trail 1", "audit trail 0"]);
      expect(third).toMatchObject({ next: null, capped: false });
    }
    // Driven by the index, pages still come newest first.
    const newest = await searchMessages(env.DB, { tenantId: t.tenantId, userId: "bob", trigram: q.trigram, grams: q.grams, limit: 1, visibleMax: 0 });
    expect(newest.hits.map((h) => h.text)).toEqual(["audit trail 1"]);
    const older = await searchMessages(env.DB, { tenantId: t.tenantId, userId: "bob", trigram: q.trigram, grams: q.grams, limit: 1, cursor: newest.next!, visibleMax: 0 });
    expect(older.hits.map((h) => h.text)).toEqual(["audit trail 0"]);
    const res = await search(t.tokens.bob!, "audit");
    expect(texts(res)).toEqual(["audit trail 1", "audit trail 0"]);
    expect(res).toMatchObject({ nextCursor: null, capped: false });
    expect(await search(t.tokens.bob!, "audit", `&after=${Date.now() - 60_000}&before=${Date.now() + 60_000}`)).toMatchObject({ nextCursor: null, capped: false });
  });

  it("bounds the second index of a mixed query too, and pages on where its matches run out", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    for (const [i, text] of ["audit 报价 one", "报价 filler 1", "报价 filler 2", "audit 报价 two"].entries()) await sendHttp(t.tokens.alice!, id, `x${i}`, text);
    const q = compileQuery("audit 报价");
    if (!q.ok) throw new Error(q.message);
    const page = (cursor?: number) =>
      searchMessages(env.DB, { tenantId: t.tenantId, userId: "bob", trigram: q.trigram, grams: q.grams, limit: 5, cursor, visibleMax: 0, secondMax: 2 });
    const first = await page();
    expect(first.hits.map((h) => h.text)).toEqual(["audit 报价 two"]);
    expect(first.capped).toBe(true);
    const second = await page(first.next!);
    expect(second.hits.map((h) => h.text)).toEqual(["audit 报价 one"]);
    expect(second).toMatchObject({ next: null, capped: false });
    expect(texts(await search(t.tokens.bob!, "audit 报价"))).toEqual(["audit 报价 two", "audit 报价 one"]);
  });

  it("starts an index walk at the cursor or date range, not at the newest match", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const n = 600;
    const t0 = Date.UTC(2026, 0, 1);
    // History as the mirror writes it (the room's own path is covered above): n matches, one a minute.
    await env.DB.prepare(
      `INSERT INTO messages (tenant_id, conversation_id, seq, client_id, sender, kind, body, text, grams, ts, version)
       WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?3)
       SELECT ?1, ?2, i, 'c' || i, 'alice', 'text', json_object('text', 'pipeline item ' || i || iif(i > ?3 - 10, ' 鹦鹉', '')),
         'pipeline item ' || i || iif(i > ?3 - 10, ' 鹦鹉', ''), iif(i > ?3 - 10, ?5, ''), ?4 + i * 60000, 1 FROM k`,
    )
      .bind(t.tenantId, id, n, t0, cjkGrams("鹦鹉"))
      .run();
    await env.DB.prepare("UPDATE conversations SET last_seq = ?3 WHERE tenant_id = ?1 AND id = ?2").bind(t.tenantId, id, n).run();
    const q = compileQuery("pipeline");
    if (!q.ok) throw new Error(q.message);
    const { db, rowsRead } = counting(env.DB);
    const base = { tenantId: t.tenantId, userId: "bob", trigram: q.trigram, grams: q.grams, limit: 5 };
    const idOf = async (seq: number) =>
      (await env.DB.prepare("SELECT id FROM messages WHERE tenant_id = ? AND conversation_id = ? AND seq = ?").bind(t.tenantId, id, seq).first<{ id: number }>())!.id;
    // Both plans, below a cursor near the oldest match: the index is read from the cursor, not through the
    // 590 newer matches (D1 binds numbers as REAL; FTS5 seeks only to an INTEGER rowid bound).
    for (const visibleMax of [undefined, 0]) {
      const before = rowsRead();
      const page = await searchMessages(db, { ...base, cursor: await idOf(11), visibleMax });
      expect(page.hits.map((h) => h.message.seq)).toEqual([10, 9, 8, 7, 6]);
      // (The plan from bob's conversations also reads his n messages from the position index, by design.)
      expect(rowsRead() - before).toBeLessThan(visibleMax === 0 ? 100 : n + 100);
    }
    // The oldest twenty minutes: the window starts at the range's newest id.
    const before = rowsRead();
    const page = await searchMessages(db, { ...base, after: t0, before: t0 + 20.5 * 60_000, visibleMax: 0 });
    expect(page.hits.map((h) => h.message.seq)).toEqual([20, 19, 18, 17, 16]);
    expect(rowsRead() - before).toBeLessThan(100);
    // Terms for both indexes: the rare grams term (in no other test's messages: the index is shared)
    // bounds the walk of the trigram terms (an AND of two).
    const mixed = compileQuery("pipeline item 鹦鹉");
    if (!mixed.ok) throw new Error(mixed.message);
    const beforeMixed = rowsRead();
    const found = await searchMessages(db, { ...base, trigram: mixed.trigram, grams: mixed.grams, visibleMax: 0 });
    expect(found.hits.map((h) => h.message.seq)).toEqual([600, 599, 598, 597, 596]);
    expect(rowsRead() - beforeMixed).toBeLessThan(200);
  });

  it("treats FTS syntax in queries as plain text and refuses what it cannot search", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "q1", 'He said "NEAR(deal) OR *" twice');
    for (const q of ['"', '""', "NEAR(deal", "deal OR", "*", "AND", "a:b", "(", "-deal", "^deal", "{x}", "'; DROP TABLE messages; --"]) {
      const res = await api<MessageSearch>("GET", `/v1/search/messages?q=${encodeURIComponent(q)}`, { token: t.tokens.bob! });
      expect(res.status, q).toBe(200);
    }
    expect(texts(await search(t.tokens.bob!, '"NEAR(deal)'))).toEqual(['He said "NEAR(deal) OR *" twice']);
    expectError(await api("GET", "/v1/search/messages?q=", { token: t.tokens.bob! }), 400, "invalid_request");
    expectError(await api("GET", "/v1/search/messages", { token: t.tokens.bob! }), 400, "invalid_request");
    expectError(await api("GET", `/v1/search/messages?q=${"x".repeat(101)}`, { token: t.tokens.bob! }), 400, "invalid_request");
    expectError(await api("GET", "/v1/search/messages?q=a%00b", { token: t.tokens.bob! }), 400, "invalid_request");
    expectError(await api("GET", "/v1/search/messages?q=x&limit=500", { token: t.tokens.bob! }), 400, "invalid_request");
    expect((await env.DB.prepare("SELECT count(*) AS n FROM messages").first<{ n: number }>())!.n).toBeGreaterThan(0);
  });

  it("reflects edits and removes recalled messages from search", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "e1", "draft proposal for Contoso");
    await sendHttp(t.tokens.alice!, id, "e2", "secret discount 40%");
    const stub = env.ROOMS.getByName(roomName(t.tenantId, id));
    await runInDurableObject(stub, (_i, ctx) => {
      const store = new RoomStorage(ctx.storage);
      store.log.revise(1, { body: { text: "final proposal for Fabrikam" }, editedAt: Date.now() });
      store.log.revise(2, { body: {}, recalled: true });
    });
    // Any later change flushes the mirror; an HTTP read does it synchronously.
    await api("POST", `/v1/conversations/${id}/read`, { token: t.tokens.bob!, body: { seq: 2 } });
    expect(texts(await search(t.tokens.bob!, "Contoso"))).toEqual([]);
    expect(texts(await search(t.tokens.bob!, "Fabrikam"))).toEqual(["final proposal for Fabrikam"]);
    expect(texts(await search(t.tokens.bob!, "discount"))).toEqual([]);
    const row = await env.DB.prepare("SELECT recalled, text FROM messages WHERE conversation_id = ? AND seq = 2").bind(id).first();
    expect(row).toEqual({ recalled: 1, text: "" });
  });

  it("makes WebSocket messages searchable through the outbox's mirror alarm", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = await join(id, t.tokens.alice!);
    alice.socket.send({ type: "send", clientId: "w1", kind: "text", body: { text: "renewal for Northwind" } });
    await alice.socket.next("ack");
    // The mirror runs on the object's alarm: run it now instead of waiting for its delay.
    await runDurableObjectAlarm(env.ROOMS.getByName(roomName(t.tenantId, id)));
    expect(texts(await search(t.tokens.bob!, "Northwind"))).toHaveLength(1);
    alice.socket.close();
  });

  it("changes nothing when a history batch is replayed", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "r1", "replay safe message");
    const stub = env.ROOMS.getByName(roomName(t.tenantId, id));
    const snapshot = await runInDurableObject(stub, (_i, ctx) => {
      ctx.storage.sql.exec("UPDATE room SET mirrored_seq = 0, mirrored_version = 0");
      return new RoomStorage(ctx.storage).mirror.snapshot();
    });
    const before = await env.DB.prepare("SELECT * FROM messages WHERE conversation_id = ?").bind(id).all();
    await env.DB.batch(mirrorStatements(env.DB, snapshot!));
    await env.DB.batch(mirrorStatements(env.DB, snapshot!));
    const after = await env.DB.prepare("SELECT * FROM messages WHERE conversation_id = ?").bind(id).all();
    expect(after.results).toEqual(before.results);
    expect(texts(await search(t.tokens.bob!, "replay safe"))).toEqual(["replay safe message"]);
  });
});

describe("conversation search", () => {
  it("finds my conversations by name and by another member's name", async () => {
    const { t, sales } = await seedChat();
    const byName = await api<ConversationSearch>("GET", "/v1/search/conversations?q=apac", { token: t.tokens.bob! });
    expect(byName.body.conversations.map((c: { id: string }) => c.id)).toEqual([sales]);
    const byMember = await api<ConversationSearch>("GET", "/v1/search/conversations?q=CAROL", { token: t.tokens.bob! });
    expect(byMember.body.conversations.map((c: { id: string }) => c.id)).toEqual([sales]);
    const notMine = await api<ConversationSearch>("GET", "/v1/search/conversations?q=board", { token: t.tokens.bob! });
    expect(notMine.body.conversations).toEqual([]);
  });
});

describe("query compilation", () => {
  it("spells CJK runs out as characters and pairs", () => {
    expect(cjkGrams("线索ok")).toBe(" 线 索 线索 ok");
  });

  it("quotes every term and routes short terms to the grams index", () => {
    expect(compileQuery('deal "x" 线索 ok')).toEqual({
      ok: true,
      trigram: '"deal" AND """x"""',
      grams: '"线索" AND "ok"',
      terms: ["deal", '"x"', "线索", "ok"],
    });
  });
});

describe("retention", () => {
  it("deletes messages older than the tenant's retention period from history, search and the conversation", async () => {
    const { default: worker } = await import("../workers/index");
    const { createExecutionContext, createScheduledController, waitOnExecutionContext } = await import("cloudflare:test");
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "old", "ancient forecast");
    await sendHttp(t.tokens.alice!, id, "new", "fresh forecast");
    // Age the first message by 40 days, in the object and in the D1 copy.
    const stub = env.ROOMS.getByName(roomName(t.tenantId, id));
    const aged = Date.now() - 40 * 86_400_000;
    await runInDurableObject(stub, (_i, ctx) => {
      ctx.storage.sql.exec("UPDATE messages SET ts = ? WHERE seq = 1", aged);
      ctx.storage.sql.exec("UPDATE room SET created_at = ?", aged);
    });
    await env.DB.prepare("UPDATE messages SET ts = ? WHERE conversation_id = ? AND seq = 1").bind(aged, id).run();
    await env.DB.prepare("UPDATE conversations SET created_at = ? WHERE id = ?").bind(aged, id).run();

    expectError(await api("PUT", "/v1/tenant/settings", { token: t.apiKey, body: { retentionDays: 0 } }), 400, "invalid_request");
    expectError(await api("PUT", "/v1/tenant/settings", { token: t.tokens.alice!, body: { retentionDays: 30 } }), 403, "forbidden");
    expect((await api<TenantSettings>("PUT", "/v1/tenant/settings", { token: t.apiKey, body: { retentionDays: 30 } })).body).toMatchObject({ retentionDays: 30 });
    expect((await api<TenantSettings>("GET", "/v1/tenant/settings", { token: t.apiKey })).body).toEqual({
      retentionDays: 30,
      editWindowSeconds: 86_400,
      recallWindowSeconds: 600,
      attachmentMaxBytes: 26_214_400,
      attachmentTypes: null,
      eventRetentionDays: 7,
    });

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "17 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);

    expect(texts(await search(t.tokens.bob!, "forecast"))).toEqual(["fresh forecast"]);
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.bob! });
    expect(history.body.messages.map((m: { seq: number }) => m.seq)).toEqual([2]);
    // seq keeps counting.
    expect((await sendHttp(t.tokens.alice!, id, "next", "next")).body.seq).toBe(3);
  });
});

/** A D1 database that adds up D1's `rows_read` over every statement run through it. */
function counting(inner: D1Database): { db: D1Database; rowsRead: () => number } {
  let total = 0;
  const count = <T extends { meta: D1Meta }>(result: T) => {
    total += result.meta.rows_read;
    return result;
  };
  const db = {
    prepare(sql: string) {
      const statement = inner.prepare(sql);
      return {
        bind(...values: unknown[]) {
          const bound = statement.bind(...values);
          return {
            all: async () => count(await bound.all()),
            first: async () => count(await bound.all()).results[0] ?? null,
          };
        },
      };
    },
  };
  return { db: db as unknown as D1Database, rowsRead: () => total };
}
