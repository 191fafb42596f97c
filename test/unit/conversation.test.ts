import { describe, expect, it } from "vitest";
import { LIMITS } from "../../src/protocol/limits";
import { as, group, TENANT, value } from "./fixtures";

const text = (t: string) => ({ kind: "text", body: { text: t } });

describe("sending", () => {
  it("numbers messages 1, 2, 3 and broadcasts each after it is stored", () => {
    const { conversation, fanout, store } = group();
    for (const [i, who] of ["alice", "bob", "alice"].entries()) {
      const sent = value(conversation.send(as(who), { clientId: `c${i}`, ...text(`m${i}`) }, 2_000 + i));
      expect(sent.status).toBe("created");
      expect(store.messages.at(-1)?.seq).toBe(sent.message.seq);
    }
    expect(fanout.messages().map((m) => m.seq)).toEqual([1, 2, 3]);
  });

  it("answers a retried clientId with the stored message and writes nothing", () => {
    const { conversation, store, fanout } = group();
    const first = value(conversation.send(as("bob"), { clientId: "x", ...text("hello") }, 2_000));
    const again = value(conversation.send(as("bob"), { clientId: "x", ...text("something else") }, 3_000));
    expect(again).toEqual({ status: "duplicate", message: first.message });
    expect(store.messages).toHaveLength(1);
    expect(fanout.messages()).toHaveLength(1);
  });

  it("acks through onStored before the broadcast", () => {
    const { conversation, fanout } = group();
    const order: string[] = [];
    const broadcast = fanout.broadcast.bind(fanout);
    fanout.broadcast = (frame) => {
      order.push(frame.type);
      broadcast(frame);
    };
    conversation.send(as("bob"), { clientId: "x", ...text("hi") }, 2_000, () => order.push("ack"));
    expect(order).toEqual(["ack", "message"]);
  });

  it("refuses strangers, other tenants and bodies that do not fit their kind", () => {
    const { conversation } = group();
    expect(conversation.send(as("mallory"), { clientId: "x", ...text("hi") }, 2_000)).toMatchObject({ ok: false, code: "not_found" });
    expect(conversation.send({ ...as("bob"), tenantId: "other" }, { clientId: "x", ...text("hi") }, 2_000)).toMatchObject({ ok: false, code: "not_found" });
    expect(conversation.send(as("bob"), { clientId: "x", kind: "text", body: { text: "" } }, 2_000)).toMatchObject({ ok: false, code: "invalid_request" });
    expect(conversation.send(as("bob"), { clientId: "x", kind: "system", body: {} }, 2_000)).toMatchObject({ ok: false, code: "invalid_request" });
  });

  it("accepts mentions of members only, and replies only to messages people wrote", () => {
    const { conversation } = group();
    const mention = (who: string) => conversation.send(as("bob"), { clientId: who, kind: "text", body: { text: "hey", mentions: [who] } }, 2_000);
    expect(mention("carol").ok).toBe(true);
    expect(mention("all").ok).toBe(true);
    expect(mention("mallory")).toMatchObject({ ok: false, message: "body.mentions: mallory is not a member" });
    expect(conversation.send(as("bob"), { clientId: "r", ...text("re"), replyTo: 99 }, 2_000)).toMatchObject({ ok: false, code: "invalid_request" });
    expect(value(conversation.send(as("bob"), { clientId: "r2", ...text("re"), replyTo: 1 }, 2_000)).message.replyTo).toBe(1);
  });

  it("lets only the tenant's bot post CRM cards, and makes a later card about the same object reference the first", () => {
    const { conversation, roster } = group();
    const card = { source: "hubspot", objectType: "deal", objectId: "42", event: "deal.created", title: "Big deal" };
    expect(conversation.send(as("bob"), { clientId: "c", kind: "crm", body: card }, 2_000)).toMatchObject({ ok: false, code: "forbidden" });
    const bot = as("bot", { tenantAdmin: true });
    const first = value(conversation.send(bot, { clientId: "c1", kind: "crm", body: card }, 2_000)).message;
    const second = value(conversation.send(bot, { clientId: "c2", kind: "crm", body: { ...card, event: "deal.updated" } }, 3_000)).message;
    expect(first.body.updates).toBeUndefined();
    expect(second).toMatchObject({ replyTo: first.seq, body: { updates: first.seq } });
    // The bot joined in the open before its first card.
    expect(value(roster.addMembers(as("alice"), [], 4_000)).members).toContain("bot");
  });

  it("takes an attachment's facts from the sender's own upload, never from the body", () => {
    const { conversation, store } = group();
    value(conversation.registerAttachment(as("bob"), { id: "f1", name: "real.png", size: 10, contentType: "image/png", width: 3, height: 4, createdAt: 1 }));
    const claimed = { attachment: { id: "f1", name: "fake.exe", size: 1, contentType: "image/png" } };
    const sent = value(conversation.send(as("bob"), { clientId: "i", kind: "image", body: claimed }, 2_000)).message;
    expect(sent.body).toEqual({ attachment: { id: "f1", name: "real.png", size: 10, contentType: "image/png" }, width: 3, height: 4 });
    expect(store.uploads.get("f1")?.sentSeq).toBe(sent.seq);
    expect(conversation.send(as("carol"), { clientId: "i", kind: "file", body: claimed }, 2_000)).toMatchObject({ ok: false, code: "invalid_request" });
  });

  it("rate-limits a device's burst and says when to retry", () => {
    const { conversation } = group();
    let refused;
    for (let i = 0; i <= LIMITS.sendBurst && !refused; i++) {
      const r = conversation.send(as("bob"), { clientId: `b${i}`, ...text("spam") }, 2_000);
      if (!r.ok) refused = r;
    }
    expect(refused).toMatchObject({ code: "rate_limited" });
    expect(refused?.retryAfterMs).toBeGreaterThan(0);
  });
});

describe("reading", () => {
  it("moves a read cursor forward only, never past the log, and tells the other sockets", () => {
    const { conversation, fanout } = group();
    for (const c of ["a", "b", "c"]) conversation.send(as("alice"), { clientId: c, ...text(c) }, 2_000);
    expect(value(conversation.markRead(as("bob"), 2)).readSeq).toBe(2);
    expect(value(conversation.markRead(as("bob"), 1)).readSeq).toBe(2);
    expect(value(conversation.markRead(as("bob"), 99)).readSeq).toBe(3);
    expect(fanout.frames.filter((f) => f.type === "read")).toEqual([
      { type: "read", userId: "bob", seq: 2 },
      { type: "read", userId: "bob", seq: 3 },
    ]);
    expect(value(conversation.view(as("bob")))).toMatchObject({ readSeq: 3, unread: 0, lastSeq: 3, lastMessage: { seq: 3, preview: "c" } });
    expect(value(conversation.view(as("carol")))).toMatchObject({ unread: 3 });
  });

  it("leaves a message out of one reader's history once they hid it", () => {
    const { conversation, fanout } = group();
    for (const c of ["a", "b"]) conversation.send(as("alice"), { clientId: c, ...text(c) }, 2_000);
    value(conversation.hide(as("bob"), 1));
    expect(value(conversation.history(as("bob"), { limit: 10 })).map((m) => m.seq)).toEqual([2]);
    expect(value(conversation.history(as("carol"), { limit: 10 })).map((m) => m.seq)).toEqual([1, 2]);
    expect(fanout.toUsers).toEqual([{ userId: "bob", frame: { type: "hidden", seq: 1 } }]);
  });

  it("counts read receipts among the other members", () => {
    const { conversation } = group();
    conversation.send(as("alice"), { clientId: "a", ...text("a") }, 2_000);
    conversation.markRead(as("bob"), 1);
    expect(value(conversation.receipts(as("alice"), 1))).toEqual({ seq: 1, readBy: ["bob"], count: 1, of: 2 });
  });

  it("shows a tenant's other conversations as not found", () => {
    const { conversation } = group();
    expect(conversation.view({ tenantId: "other", userId: "alice" })).toMatchObject({ ok: false, code: "not_found" });
    expect(conversation.view({ tenantId: TENANT, userId: "bot", tenantAdmin: true }).ok).toBe(true);
  });
});
