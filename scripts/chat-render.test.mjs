// The terminal chat says every kind of message in words (run by `npm run test:readme`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { renderDeviceFrame, renderMessage } from "./chat-render.mjs";

const m = (seq, sender, kind, body, extra = {}) => ({ conversationId: "g_1", seq, clientId: `c${seq}`, sender, kind, body, ts: 0, ...extra });

test("texts, replies, pictures and files", () => {
  assert.equal(renderMessage(m(1, "alice", "text", { text: "Hello team" })), "[1] alice: Hello team");
  assert.equal(renderMessage(m(2, "bob", "text", { text: "Hi" }, { replyTo: 1 })), "[2] bob: Hi (reply to #1)");
  const png = { attachment: { id: "f_1", name: "chart.png", size: 139, contentType: "image/png" }, width: 48, height: 32 };
  assert.equal(renderMessage(m(3, "alice", "image", png)), "[3] alice: picture chart.png (48×32, 139 B)");
  const pdf = { attachment: { id: "f_2", name: "quote.pdf", size: 2048, contentType: "application/pdf" }, caption: "v2" };
  assert.equal(renderMessage(m(4, "alice", "file", pdf)), "[4] alice: file quote.pdf (2.0 KiB): v2");
});

test("work logs, approval requests and decisions", () => {
  const log = { date: "2026-11-26", done: ["ACME demo"], planned: ["Send quote"], blockers: [] };
  assert.equal(renderMessage(m(5, "alice", "log", log)), "[5] alice: work log 2026-11-26: done ACME demo · planned Send quote · blockers none");
  const request = { title: "15% discount for ACME", approvers: ["carol"], amount: 12000, currency: "EUR", state: "pending" };
  assert.equal(renderMessage(m(6, "alice", "approval", request)), '[6] alice: asks for approval: "15% discount for ACME" 12,000 EUR, approvers carol, pending');
  const decision = { request: 6, decision: "approved", state: "approved", comment: "ok" };
  assert.equal(renderMessage(m(7, "carol", "approval", decision, { replyTo: 6 })), '[7] carol: approves request #6: "ok" (the request is now approved)');
  assert.equal(renderMessage(m(8, "bob", "approval", { request: 6, decision: "rejected", state: "rejected" })), "[8] bob: rejects request #6 (the request is now rejected)");
});

test("edits, recalls, reactions, cards and card actions", () => {
  const sys = (seq, body) => m(seq, "system", "system", { userIds: [], ...body });
  assert.equal(renderMessage(sys(9, { event: "message_edited", actor: "alice", target: 1, body: { text: "Hello all" } })), "[9] alice edited #1: Hello all");
  assert.equal(
    renderMessage(sys(10, { event: "message_edited", actor: "alice", target: 5, body: { date: "2026-11-26", done: ["A", "B"], planned: [], blockers: [] } })),
    "[10] alice edited #5: work log 2026-11-26: done A; B · planned none · blockers none",
  );
  assert.equal(renderMessage(sys(11, { event: "message_recalled", actor: "alice", target: 2 })), "[11] alice recalled #2");
  assert.equal(renderMessage(m(2, "alice", "text", {}, { recalled: true })), "[2] alice: (recalled)");
  assert.equal(renderMessage(sys(12, { event: "reaction_added", actor: "bob", target: 1, emoji: "👍" })), "[12] bob reacted 👍 to #1");
  const card = { source: "hubspot", objectType: "opportunity", objectId: "42", event: "opportunity.stage_changed", title: "ACME renewal", stage: "closedwon", amount: 50000, currency: "USD", updates: 3 };
  assert.equal(renderMessage(m(13, "bot", "crm", card)), "[13] bot: opportunity card opportunity.stage_changed: ACME renewal 50,000 USD (stage closedwon) (update of #3)");
  assert.equal(renderMessage(sys(14, { event: "card_action", actor: "bob", target: 13, action: "claim" })), '[14] bob pressed "claim" on card #13');
  assert.equal(renderMessage(sys(15, { event: "members_added", actor: "bot", userIds: ["bot"] })), "[15] bot added bot");
});

test("device-channel frames: news elsewhere and presence", () => {
  const names = new Map([["d_1", "direct with alice"]]);
  assert.equal(renderDeviceFrame({ type: "notify", conversationId: "d_1", seq: 4, sender: "alice", preview: "lunch?", kind: "text", muted: false }, names), "* new in direct with alice [4] alice: lunch?");
  assert.equal(renderDeviceFrame({ type: "presence", userId: "carol", status: "online" }), "* carol is online");
  assert.equal(renderDeviceFrame({ type: "ready", userId: "bob", deviceId: "chat-bob" }), undefined);
});
