import type { Message } from "../protocol/frames";
import { approvalStateOf, decideApproval, isApprovalRequest } from "./approvals";
import { unknownMention } from "./compose";
import type { Conversation } from "./conversation";
import { attachmentIdOf, checkMessageBody } from "./kinds";
import { editRefusal, REACTIONS_PER_USER_MESSAGE, recallRefusal, redactedEditEvent, type LifecyclePolicy } from "./lifecycle";
import type { DecisionInput, EditHistory, SendResult } from "./model";
import { fail, ok, type Actor, type Result } from "./result";

/**
 * What people do to messages already in the log: react, edit, recall, decide an approval, act on a CRM
 * card. Each change is a `system` event (or, for a decision, a message) in the sequence, so every
 * device applies it in order.
 */
export class MessageActions {
  constructor(private readonly conversation: Conversation) {}

  private get store() {
    return this.conversation.store;
  }

  /** A message people wrote (not a `system` event), or not_found. */
  private target(seq: number): Result<Message> {
    const target = this.store.log.message(seq);
    return target && target.kind !== "system" ? ok(target) : fail("not_found", `no message ${seq}`);
  }

  /** Add or remove a reaction: one per emoji per person; each change is a `system` event in order. */
  react(actor: Actor, seq: number, emoji: string, add: boolean, now: number): Result<{ changed: boolean; reactions: Record<string, string[]> }> {
    const access = this.conversation.access(actor);
    if (!access.ok) return access;
    const target = this.target(seq);
    if (!target.ok) return target;
    if (target.value.recalled) return fail("conflict", "the message was recalled");
    if (add && this.store.reactions.countOf(seq, actor.userId) >= REACTIONS_PER_USER_MESSAGE) {
      return fail("invalid_request", `emoji: at most ${REACTIONS_PER_USER_MESSAGE} different reactions per message`);
    }
    const changed = this.store.reactions.set(seq, actor.userId, emoji, add, now);
    if (changed) this.conversation.system(actor.userId, { event: add ? "reaction_added" : "reaction_removed", target: seq, emoji, userIds: [actor.userId] }, now);
    return ok({ changed, reactions: this.store.reactions.between(seq, seq).get(seq) ?? {} });
  }

  /** Edit one's own message within the tenant's window; the earlier body is kept. */
  edit(actor: Actor, seq: number, body: unknown, policy: LifecyclePolicy, now: number): Result<Message> {
    const access = this.conversation.access(actor);
    if (!access.ok) return access;
    const target = this.target(seq);
    if (!target.ok) return target;
    const refused = editRefusal(target.value, actor.userId, policy, now);
    if (refused) return refused;
    const checked = checkMessageBody(target.value.kind, body);
    if (!checked.ok) return fail("invalid_request", checked.message);
    if (checked.kind !== "text" && checked.kind !== "log") return fail("invalid_request", `kind: ${checked.kind} messages cannot be edited`);
    const mention = checked.kind === "text" ? unknownMention(this.store, checked.body.mentions) : undefined;
    if (mention !== undefined) return fail("invalid_request", `body.mentions: ${mention} is not a member`);
    this.store.edits.record(seq, target.value.body, now);
    const revised = this.store.log.revise(seq, { body: checked.body, editedAt: now });
    if (!revised) return fail("not_found", `no message ${seq}`);
    this.conversation.system(actor.userId, { event: "message_edited", target: seq, body: checked.body, editedAt: now, userIds: [actor.userId] }, now);
    return ok(revised);
  }

  /** The bodies a message had before its edits, oldest first. */
  editHistory(actor: Actor, seq: number): Result<EditHistory> {
    const access = this.conversation.access(actor);
    if (!access.ok) return access;
    const target = this.target(seq);
    if (!target.ok) return target;
    return ok({ seq, edits: target.value.recalled ? [] : this.store.edits.of(seq) });
  }

  /**
   * Recall a message: its author within the tenant's window, or a group owner/admin at any time.
   * The body is removed everywhere (a tombstone remains); edit history and the upload go with it.
   */
  recall(actor: Actor, seq: number, policy: LifecyclePolicy, now: number): Result<Message> {
    const access = this.conversation.access(actor);
    if (!access.ok) return access;
    const { room, member } = access.value;
    const target = this.target(seq);
    if (!target.ok) return target;
    if (target.value.recalled) return target;
    const moderator = room.type === "group" && (member.role === "owner" || member.role === "admin");
    const refused = recallRefusal(target.value, actor.userId, moderator, policy, now);
    if (refused) return refused;
    this.store.edits.forget(seq);
    const attachmentId = attachmentIdOf(target.value.kind, target.value.body);
    if (attachmentId !== undefined) this.store.attachments.discard(attachmentId, now);
    // Edit events carried the body too: they keep their place in the sequence, without it.
    for (const event of this.store.log.editEventsOf(seq)) this.store.log.revise(event.seq, { body: redactedEditEvent(event.body) });
    const revised = this.store.log.revise(seq, { body: {}, recalled: true });
    if (!revised) return fail("not_found", `no message ${seq}`);
    this.conversation.system(actor.userId, { event: "message_recalled", target: seq, userIds: [target.value.sender] }, now);
    return ok(revised);
  }

  /** Act on a CRM card: a `card_action` event in the sequence, and a card.action event for the CRM. */
  cardAction(actor: Actor, seq: number, action: string, now: number): Result<{ card: Message }> {
    const access = this.conversation.access(actor);
    if (!access.ok) return access;
    const card = this.store.log.message(seq);
    if (!card || card.kind !== "crm" || card.recalled) return fail("not_found", `no card ${seq}`);
    this.conversation.system(actor.userId, { event: "card_action", target: seq, action, userIds: [actor.userId] }, now);
    this.store.outbound.enqueue("card.action", { conversationId: card.conversationId, seq: card.seq, action, userId: actor.userId, card: card.body }, now);
    return ok({ card });
  }

  /**
   * Decide an approval request (rules in approvals.ts). The decision is a new `approval` message
   * referencing the request, and the request's own body carries the current state (so history shows
   * it); a request that reaches its final state is an approval.decided event for the CRM.
   */
  decide(actor: Actor, seq: number, input: DecisionInput, now: number): Result<{ decision: SendResult; request: Message; final: boolean }> {
    const access = this.conversation.access(actor);
    if (!access.ok) return access;
    const existing = this.store.log.findByClientId(actor.userId, input.clientId);
    const request = this.store.log.message(seq);
    if (existing && request) return ok({ decision: { status: "duplicate", message: existing }, request, final: request.body.state !== "pending" });
    if (!request || !isApprovalRequest(request)) return fail("not_found", `no approval request ${seq}`);
    if (request.recalled) return fail("conflict", "the request was recalled");
    const state = approvalStateOf(request);
    if (!state) return fail("not_found", `no approval request ${seq}`);
    const decided = decideApproval(state, actor.userId, input, now);
    if (!decided.ok) return decided;
    const { verdict, ...next } = decided.value;
    const updated = this.store.log.revise(seq, { body: { ...request.body, state: next.state, decisions: next.decisions } });
    if (!updated) return fail("not_found", `no approval request ${seq}`);
    const comment = input.comment ? { comment: input.comment } : {};
    const decision = this.store.log.append({
      sender: actor.userId,
      clientId: input.clientId,
      content: { kind: "approval", body: { request: seq, decision: verdict, state: next.state, ...comment } },
      now,
      replyTo: seq,
    });
    this.conversation.fanout.broadcast({ type: "message", message: decision.message });
    const final = next.state !== "pending";
    if (final) {
      this.store.outbound.enqueue("approval.decided", {
        conversationId: updated.conversationId,
        seq: updated.seq,
        title: updated.body.title ?? null,
        state: next.state,
        decisions: next.decisions,
        requestedBy: updated.sender,
      }, now);
    }
    return ok({ decision, request: updated, final });
  }
}
