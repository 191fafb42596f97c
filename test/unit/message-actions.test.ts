import { describe, expect, it } from "vitest";
import { decideApproval } from "../../src/domain/approvals";
import { lifecyclePolicy, REACTIONS_PER_USER_MESSAGE } from "../../src/domain/lifecycle";
import { as, group, value } from "./fixtures";

const MINUTE = 60_000;
const policy = lifecyclePolicy(60, 120);

function withMessage(from = "bob") {
  const g = group(["bob", "carol"]);
  value(g.conversation.send(as(from), { clientId: "m", kind: "text", body: { text: "price is 100" } }, 1_000));
  return g;
}

describe("edits", () => {
  it("lets the author edit within the window, keeping the earlier body", () => {
    const { actions, fanout } = withMessage();
    const edited = value(actions.edit(as("bob"), 1, { text: "price is 120" }, policy, 1_000 + MINUTE));
    expect(edited).toMatchObject({ seq: 1, body: { text: "price is 120" }, editedAt: 1_000 + MINUTE });
    expect(value(actions.editHistory(as("carol"), 1)).edits.map((e) => e.body.text)).toEqual(["price is 100"]);
    expect(fanout.messages().at(-1)?.body).toMatchObject({ event: "message_edited", target: 1, body: { text: "price is 120" } });
  });

  it("refuses edits by others, after the window, of recalled messages and of kinds that cannot be edited", () => {
    const { actions, conversation } = withMessage();
    expect(actions.edit(as("carol"), 1, { text: "x" }, policy, 2_000)).toMatchObject({ ok: false, code: "forbidden" });
    expect(actions.edit(as("bob"), 1, { text: "x" }, policy, 1_001 + MINUTE)).toMatchObject({ ok: false, code: "forbidden" });
    expect(actions.edit(as("bob"), 1, { text: "" }, policy, 2_000)).toMatchObject({ ok: false, code: "invalid_request" });
    value(conversation.send(as("bob"), { clientId: "a", kind: "approval", body: { title: "Discount", approvers: ["alice"] } }, 2_000));
    expect(actions.edit(as("bob"), 2, { title: "More" }, policy, 2_000)).toMatchObject({ ok: false, code: "invalid_request" });
    value(actions.recall(as("bob"), 1, policy, 2_000));
    expect(actions.edit(as("bob"), 1, { text: "x" }, policy, 2_000)).toMatchObject({ ok: false, code: "conflict" });
  });
});

describe("recalls", () => {
  it("lets the author recall within the window, removing the body, its edits and the bodies edit events carried", () => {
    const { actions, store } = withMessage();
    value(actions.edit(as("bob"), 1, { text: "secret 38" }, policy, 2_000));
    const recalled = value(actions.recall(as("bob"), 1, policy, 3_000));
    expect(recalled).toMatchObject({ seq: 1, recalled: true, body: {} });
    expect(value(actions.editHistory(as("carol"), 1)).edits).toEqual([]);
    expect(JSON.stringify(store.messages)).not.toContain("secret");
    expect(store.messages.find((m) => m.body.event === "message_edited")?.body).toMatchObject({ redacted: true });
  });

  it("refuses the author after the window, but lets a group admin recall at any time", () => {
    const { actions, roster } = withMessage();
    const late = 1_001 + 2 * MINUTE;
    expect(actions.recall(as("bob"), 1, policy, late)).toMatchObject({ ok: false, code: "forbidden" });
    expect(actions.recall(as("carol"), 1, policy, 2_000)).toMatchObject({ ok: false, code: "forbidden" });
    value(roster.setRole(as("alice"), "carol", "admin", 2_000));
    expect(value(actions.recall(as("carol"), 1, policy, late)).recalled).toBe(true);
  });

  it("deletes the bytes of a recalled upload", () => {
    const { actions, conversation, store } = group(["bob"]);
    value(conversation.registerAttachment(as("bob"), { id: "f1", name: "a.pdf", size: 3, contentType: "application/pdf", createdAt: 1 }));
    value(conversation.send(as("bob"), { clientId: "f", kind: "file", body: { attachment: { id: "f1", name: "a.pdf", size: 3, contentType: "application/pdf" } } }, 2_000));
    value(actions.recall(as("bob"), 1, policy, 3_000));
    expect(store.deletedFiles).toEqual(["f1"]);
  });
});

describe("reactions", () => {
  it("adds one reaction per emoji per person, each change a system event", () => {
    const { actions, fanout } = withMessage();
    expect(value(actions.react(as("carol"), 1, "👍", true, 2_000))).toEqual({ changed: true, reactions: { "👍": ["carol"] } });
    expect(value(actions.react(as("carol"), 1, "👍", true, 2_000)).changed).toBe(false);
    expect(value(actions.react(as("carol"), 1, "👍", false, 2_000))).toEqual({ changed: true, reactions: {} });
    expect(fanout.messages().filter((m) => m.kind === "system").map((m) => m.body.event)).toEqual(["reaction_added", "reaction_removed"]);
  });

  it("caps the distinct emoji one person puts on one message", () => {
    const { actions } = withMessage();
    for (let i = 0; i < REACTIONS_PER_USER_MESSAGE; i++) value(actions.react(as("carol"), 1, `:e${i}:`, true, 2_000));
    expect(actions.react(as("carol"), 1, ":one_more:", true, 2_000)).toMatchObject({ ok: false, code: "invalid_request" });
  });
});

describe("approvals", () => {
  const request = { approvers: ["alice", "carol"], state: "pending" as const, decisions: [] };

  it("approves once every approver approved, and rejects at the first rejection", () => {
    const first = value(decideApproval(request, "alice", { decision: "approve" }, 1));
    expect(first.state).toBe("pending");
    expect(value(decideApproval(first, "carol", { decision: "approve" }, 2)).state).toBe("approved");
    expect(value(decideApproval(first, "carol", { decision: "reject", comment: "too much" }, 2))).toMatchObject({
      state: "rejected",
      verdict: "rejected",
      decisions: [{ by: "alice", decision: "approved", at: 1 }, { by: "carol", decision: "rejected", comment: "too much", at: 2 }],
    });
  });

  it("takes decisions from listed approvers only, once each, while pending", () => {
    expect(decideApproval(request, "bob", { decision: "approve" }, 1)).toMatchObject({ ok: false, code: "forbidden" });
    const first = value(decideApproval(request, "alice", { decision: "approve" }, 1));
    expect(decideApproval(first, "alice", { decision: "approve" }, 2)).toMatchObject({ ok: false, code: "conflict" });
    const done = value(decideApproval(first, "carol", { decision: "reject" }, 2));
    expect(decideApproval(done, "carol", { decision: "approve" }, 3)).toMatchObject({ ok: false, code: "conflict" });
  });

  it("stores a decision as a message, keeps the request's state in its body, and tells the CRM of the final state", () => {
    const { conversation, actions, store } = group(["bob", "carol"]);
    value(conversation.send(as("bob"), { clientId: "r", kind: "approval", body: { title: "Discount", approvers: ["alice"] } }, 1_000));
    expect(store.messages[0]?.body).toMatchObject({ state: "pending", decisions: [] });
    const decided = value(actions.decide(as("alice"), 1, { clientId: "d", decision: "approve" }, 2_000));
    expect(decided).toMatchObject({ final: true, request: { body: { state: "approved" } }, decision: { status: "created", message: { replyTo: 1, body: { request: 1, decision: "approved" } } } });
    expect(store.events).toMatchObject([{ type: "approval.decided", payload: { seq: 1, state: "approved", requestedBy: "bob" } }]);
    // A retried decision returns the stored one.
    expect(value(actions.decide(as("alice"), 1, { clientId: "d", decision: "reject" }, 3_000)).decision.status).toBe("duplicate");
  });

  it("refuses approvers who are not members", () => {
    const { conversation } = group(["bob"]);
    expect(conversation.send(as("bob"), { clientId: "r", kind: "approval", body: { title: "X", approvers: ["mallory"] } }, 1_000)).toMatchObject({
      ok: false,
      message: "body.approvers: mallory is not a member",
    });
  });
});

describe("card actions", () => {
  it("records an action on a CRM card in the sequence and for the CRM", () => {
    const { conversation, actions, store } = group(["bob"]);
    const card = { source: "hubspot", objectType: "deal", objectId: "7", event: "deal.created", title: "Deal" };
    value(conversation.send(as("bot", { tenantAdmin: true }), { clientId: "c", kind: "crm", body: card }, 1_000));
    const seq = store.messages.find((m) => m.kind === "crm")!.seq;
    value(actions.cardAction(as("bob"), seq, "claim", 2_000));
    expect(store.events).toMatchObject([{ type: "card.action", payload: { seq, action: "claim", userId: "bob" } }]);
    expect(actions.cardAction(as("bob"), 1, "claim", 2_000)).toMatchObject({ ok: false, code: "not_found" });
  });
});
