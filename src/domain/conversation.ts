import type { Message } from "../protocol/frames";
import { LIMITS } from "../protocol/limits";
import { compose } from "./compose";
import { checkMessageBody, previewOf, type SystemBody } from "./kinds";
import type { AttachmentRecord, AttachmentUpload, ConversationView, Fanout, HistoryRange, Receipts, SendInput, SendResult } from "./model";
import { BucketMap } from "./rate";
import { fail, ok, type Actor, type Failure, type Result } from "./result";
import type { ConversationStore, MemberState, Room } from "./store";

/** Close code for a socket whose user is no longer a member. */

/**
 * The rules of one conversation: who may use it, sending (ordering, idempotency, rate limits), reading
 * and the reader's view of the log, over its store. Membership changes live in roster.ts, what people
 * do to sent messages in message-actions.ts; both go through {@link Conversation.access} and
 * {@link Conversation.system}. Every method is synchronous from check to write to broadcast, so
 * nothing interleaves and a broadcast always follows the write it announces.
 */
export class Conversation {
  /** Send budgets per device and per user; both bounded, since device ids are the client's choice. */
  private readonly deviceBuckets = new BucketMap(LIMITS.rateBucketsPerConversation, LIMITS.sendBurst, LIMITS.sendPerSecond);
  private readonly userBuckets = new BucketMap(LIMITS.membersPerGroup, LIMITS.sendUserBurst, LIMITS.sendUserPerSecond);

  constructor(
    readonly store: ConversationStore,
    readonly fanout: Fanout,
    /** A tenant-level gate on new messages (the messages-per-day quota); a retried send is never refused by it. */
    private readonly admit: () => Failure | undefined = () => undefined,
  ) {}

  /** The room if it exists and belongs to the actor's tenant and the actor is an active member. */
  access(actor: Actor): Result<{ room: Room; member: MemberState }> {
    const room = this.store.room.get();
    if (!room || room.tenantId !== actor.tenantId) return fail("not_found", "conversation not found");
    const member = this.store.members.member(actor.userId);
    if (!member) return fail("not_found", "conversation not found");
    return ok({ room, member });
  }

  /** Like access, but the tenant's administrator passes without being a member (member is then undefined). */
  accessAsAdmin(actor: Actor): Result<{ room: Room; member: MemberState | undefined }> {
    if (!actor.tenantAdmin) return this.access(actor);
    const room = this.store.room.get();
    if (!room || room.tenantId !== actor.tenantId) return fail("not_found", "conversation not found");
    return ok({ room, member: this.store.members.member(actor.userId) });
  }

  isMember(actor: Actor): boolean {
    return this.access(actor).ok;
  }

  /** The failure to answer when the actor may not use this conversation (checked before anything else is loaded). */
  denied(actor: Actor): Failure | undefined {
    const access = this.access(actor);
    return access.ok ? undefined : access;
  }

  view(actor: Actor): Result<ConversationView> {
    const access = this.accessAsAdmin(actor);
    if (!access.ok) return access;
    return ok(this.viewFor(access.value.room, access.value.member));
  }

  /** The conversation as one member sees it; for a tenant administrator who is not a member, without its messages. */
  private viewFor(room: Room, member: MemberState | undefined): ConversationView {
    const members = [...this.store.members.active().values()];
    const last = member ? this.store.log.lastCountable() : undefined;
    return {
      id: room.conversationId,
      type: room.type,
      name: room.name,
      members: members.map((m) => m.userId).sort(),
      roles: Object.fromEntries(members.map((m) => [m.userId, m.role])),
      createdAt: room.createdAt,
      lastSeq: room.lastSeq,
      readSeq: member?.readSeq ?? 0,
      unread: member ? this.store.readers.unreadOf(member) : 0,
      muted: member?.muted ?? false,
      lastMessage: last ? { ...last, preview: previewOf(last.kind, last.body) } : null,
    };
  }

  /**
   * Send a message. A repeated (sender, clientId) returns the stored message and writes nothing, even
   * when the send would be refused now (rate limit, a mention of someone who left). The idempotency
   * key is checked by the insert itself, so a fresh message costs no lookup.
   */
  send(actor: Actor, input: SendInput, now: number, onStored?: (result: SendResult) => void): Result<SendResult> {
    const result = this.sendFresh(actor, input, now, onStored);
    if (result.ok || !this.accessAsAdmin(actor).ok) return result;
    const existing = this.store.log.findByClientId(actor.userId, input.clientId);
    if (!existing) return result;
    const duplicate: SendResult = { status: "duplicate", message: existing };
    onStored?.(duplicate);
    return ok(duplicate);
  }

  private sendFresh(actor: Actor, input: SendInput, now: number, onStored?: (result: SendResult) => void): Result<SendResult> {
    const access = this.accessAsAdmin(actor);
    if (!access.ok) return access;
    const limited = this.admit() ?? this.takeSendToken(actor, now);
    if (limited) return limited;
    const checked = checkMessageBody(input.kind, input.body);
    if (!checked.ok) return fail("invalid_request", checked.message);
    const composed = compose(this.store, actor.userId, checked, input.replyTo);
    if (!composed.ok) return composed;
    if (!access.value.member) {
      // The tenant's administrator joins before its first message, in the open: everyone sees it arrive.
      if (this.store.members.active().size + 1 > LIMITS.membersPerGroup) {
        return fail("invalid_request", `the conversation has ${LIMITS.membersPerGroup} members: ${actor.userId} cannot join it`);
      }
      this.store.members.add([actor.userId], now);
      this.system(actor.userId, { event: "members_added", userIds: [actor.userId] }, now);
    }
    const { content, replyTo, attachmentId } = composed.value;
    const result = this.store.log.append({ sender: actor.userId, clientId: input.clientId, content, now, replyTo });
    if (attachmentId !== undefined && result.status === "created") this.store.attachments.markSent(attachmentId, result.message.seq);
    onStored?.(result);
    if (result.status === "created") this.fanout.broadcast({ type: "message", message: result.message });
    return ok(result);
  }

  /** One token from the device's bucket and one from the user's (devices of one user share a ceiling). */
  private takeSendToken(actor: Actor, now: number): Failure | undefined {
    const device = this.deviceBuckets.get(`${actor.userId}\u0000${actor.deviceId ?? ""}`, now);
    const user = this.userBuckets.get(actor.userId, now);
    const deviceWait = device.waitMs(now);
    const userWait = user.waitMs(now);
    if (deviceWait === 0 && userWait === 0) {
      device.take(now);
      user.take(now);
      return undefined;
    }
    const message =
      deviceWait > 0
        ? `too many messages: at most ${LIMITS.sendPerSecond} per second per device`
        : `too many messages: at most ${LIMITS.sendUserPerSecond} per second per person in a conversation, across devices`;
    return fail("rate_limited", message, Math.max(deviceWait, userWait));
  }

  history(actor: Actor, range: HistoryRange): Result<Message[]> {
    const access = this.access(actor);
    if (!access.ok) return access;
    return ok(this.decorate(actor.userId, this.store.log.page(range)));
  }

  /**
   * Messages as one reader sees them: with current reactions, without the ones they deleted for
   * themselves. Used by history and by replay on connect.
   */
  decorate(userId: string, messages: Message[]): Message[] {
    const first = messages[0]?.seq;
    const last = messages.at(-1)?.seq;
    if (first === undefined || last === undefined) return messages;
    const reactions = this.store.reactions.between(first, last);
    const hidden = this.store.readers.hiddenBetween(userId, first, last);
    return messages
      .filter((m) => !hidden.has(m.seq))
      .map((m) => {
        const r = reactions.get(m.seq);
        return r ? { ...m, reactions: r } : m;
      });
  }

  /** Move the actor's read cursor; other sockets learn of it. `origin` is the socket that asked, if any. */
  markRead(actor: Actor, seq: number, origin?: unknown): Result<{ readSeq: number }> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const moved = this.store.readers.markRead(actor.userId, seq);
    if (moved !== undefined) {
      this.fanout.broadcast({ type: "read", userId: actor.userId, seq: moved }, (_user, socket) => socket === origin && origin !== undefined);
    }
    return ok({ readSeq: this.store.members.member(actor.userId)?.readSeq ?? 0 });
  }

  setMuted(actor: Actor, muted: boolean): Result<{ conversationId: string; muted: boolean }> {
    const access = this.access(actor);
    if (!access.ok) return access;
    this.store.members.setMuted(actor.userId, muted);
    return ok({ conversationId: access.value.room.conversationId, muted });
  }

  typing(actor: Actor): void {
    if (!this.access(actor).ok) return;
    this.fanout.broadcast({ type: "typing", userId: actor.userId }, (userId) => userId === actor.userId);
  }

  /** Delete a message for oneself only: it disappears from one's own history and replay. */
  hide(actor: Actor, seq: number): Result<{ hidden: boolean }> {
    const access = this.access(actor);
    if (!access.ok) return access;
    if (!this.store.log.message(seq)) return fail("not_found", `no message ${seq}`);
    if (this.store.readers.hide(actor.userId, seq)) this.fanout.toUser(actor.userId, { type: "hidden", seq });
    return ok({ hidden: true });
  }

  /** "Read by N of M": the other members whose read cursor has reached the message. */
  receipts(actor: Actor, seq: number): Result<Receipts> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const target = this.store.log.message(seq);
    if (!target) return fail("not_found", `no message ${seq}`);
    const others = [...this.store.members.active().values()].filter((m) => m.userId !== target.sender);
    const readBy = others.filter((m) => m.readSeq >= seq).map((m) => m.userId).sort();
    return ok({ seq, readBy, count: readBy.length, of: others.length });
  }

  /** Record an upload to this conversation by a member (the bytes are already in R2). */
  registerAttachment(actor: Actor, upload: AttachmentUpload): Result<AttachmentRecord> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const record: AttachmentRecord = { ...upload, uploader: actor.userId };
    this.store.attachments.register(record);
    return ok(record);
  }

  /**
   * An attachment a member may download: one that was sent in this conversation (and not recalled),
   * or their own upload.
   */
  attachmentFor(actor: Actor, id: string): Result<AttachmentRecord> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const a = this.store.attachments.get(id);
    if (!a || (a.sentSeq == null && a.uploader !== actor.userId)) return fail("not_found", "attachment not found");
    return ok(a);
  }

  /** An attachment by id, for a signed download link (whose signature already proves access). */
  attachmentForLink(tenantId: string, id: string): Result<AttachmentRecord> {
    const room = this.store.room.get();
    const record = room && room.tenantId === tenantId ? this.store.attachments.get(id) : undefined;
    return record ? ok(record) : fail("not_found", "attachment not found");
  }

  /** An event in the conversation's own sequence (membership, reactions, edits), broadcast like a message. */
  system(actor: string, event: Omit<SystemBody, "actor">, now: number): void {
    const result = this.store.log.append({
      sender: "system",
      clientId: `sys:${crypto.randomUUID()}`,
      content: { kind: "system", body: { ...event, actor } },
      now,
    });
    this.fanout.broadcast({ type: "message", message: result.message });
  }
}
