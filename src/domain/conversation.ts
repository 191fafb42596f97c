import type { JsonObject, Message, ServerFrame } from "../protocol/frames";
import { LIMITS } from "../protocol/limits";
import { BOT_USER_ID } from "../protocol/ids";
import type { AttachmentRecord, RoomStore, Room, MemberState, SendResult } from "../storage/room-store";
import { attachmentRefOf, checkMessageBody, previewOf } from "./kinds";
import { canAddMembers, canChangeRole, canRemoveMember, nextOwner, tenantAdminAuthority, type ConversationType, type Role } from "./membership";
import { fail, ok, type Actor, type Failure, type Result } from "./result";
import { BucketMap } from "./rate";

/** How the conversation reaches its live sockets; the Durable Object implements it. */
export interface Fanout {
  /** Send one frame to every socket, except those for which `skip` says so. */
  broadcast(frame: ServerFrame, skip?: (userId: string, socketKey: unknown) => boolean): void;
  /** Close every socket of a user after telling them why. */
  disconnectUser(userId: string, code: number, message: string): void;
  /** Send one frame to every socket of one user. */
  toUser(userId: string, frame: ServerFrame): void;
}

/** Kinds whose body an author may edit. */
export const EDITABLE_KINDS: readonly string[] = ["text", "log"];

export interface ConversationView {
  id: string;
  type: ConversationType;
  name: string | null;
  members: string[];
  roles: Record<string, Role>;
  createdAt: number;
  lastSeq: number;
  readSeq: number;
  unread: number;
  muted: boolean;
  lastMessage: (Message & { preview: string }) | null;
}

export interface SendInput {
  clientId: string;
  kind: unknown;
  body: unknown;
  replyTo?: number | undefined;
}

/** Tenant-configurable lifecycle windows (from the tenant's settings). */
export interface LifecyclePolicy {
  editWindowMs: number;
  recallWindowMs: number;
}

/** Most distinct emoji one person may put on one message. */
export const REACTIONS_PER_USER_MESSAGE = 20;

/** Close code for a socket whose user is no longer a member. */
export const CLOSE_NOT_MEMBER = 4403;

/**
 * The rules of one conversation: membership, ordering, idempotent sends and read cursors, over its
 * store. Every method is synchronous from check to write to broadcast, so nothing interleaves and a
 * broadcast always follows the write it announces.
 */
export class Conversation {
  /** Send budgets per device and per user; both bounded, since device ids are the client's choice. */
  private readonly deviceBuckets = new BucketMap(LIMITS.rateBucketsPerConversation, LIMITS.sendBurst, LIMITS.sendPerSecond);
  private readonly userBuckets = new BucketMap(LIMITS.membersPerGroup, LIMITS.sendUserBurst, LIMITS.sendUserPerSecond);

  constructor(
    private readonly store: RoomStore,
    private readonly fanout: Fanout,
    /** A tenant-level gate on new messages (the messages-per-day quota); a retried send is never refused by it. */
    private readonly admit: () => Failure | undefined = () => undefined,
  ) {}

  /** The room if it exists and belongs to the actor's tenant and the actor is an active member. */
  private access(actor: Actor): Result<{ room: Room; member: MemberState }> {
    const room = this.store.getRoom();
    if (!room || room.tenantId !== actor.tenantId) return fail("not_found", "conversation not found");
    const member = this.store.member(actor.userId);
    if (!member) return fail("not_found", "conversation not found");
    return ok({ room, member });
  }

  /** Like access, but the tenant's administrator passes without being a member (member is then undefined). */
  private accessAsAdmin(actor: Actor): Result<{ room: Room; member: MemberState | undefined }> {
    if (!actor.tenantAdmin) return this.access(actor);
    const room = this.store.getRoom();
    if (!room || room.tenantId !== actor.tenantId) return fail("not_found", "conversation not found");
    return ok({ room, member: this.store.member(actor.userId) });
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
    const members = [...this.store.activeMembers().values()];
    const last = member ? this.store.lastCountable() : undefined;
    return {
      id: room.conversationId,
      type: room.type,
      name: room.name,
      members: members.map((m) => m.userId).sort(),
      roles: Object.fromEntries(members.map((m) => [m.userId, m.role])),
      createdAt: room.createdAt,
      lastSeq: room.lastSeq,
      readSeq: member?.readSeq ?? 0,
      unread: member ? this.store.unreadOf(member) : 0,
      muted: member?.muted ?? false,
      lastMessage: last ? { ...last, preview: previewOf(last.kind, last.body) } : null,
    };
  }

  /** Create the direct conversation of a pair, or return the one that exists. */
  openDirect(input: { tenantId: string; conversationId: string; members: [string, string]; actor: string; now: number }): Result<{
    created: boolean;
    conversation: ConversationView;
  }> {
    const existing = this.store.getRoom();
    if (!existing) {
      this.store.create({
        tenantId: input.tenantId,
        conversationId: input.conversationId,
        type: "direct",
        name: null,
        createdBy: input.actor,
        members: input.members.map((userId) => ({ userId, role: "member" as const })),
        now: input.now,
      });
    } else if (existing.tenantId !== input.tenantId || existing.conversationId !== input.conversationId) {
      throw new Error(`direct conversation ${input.conversationId} resolved to an object holding ${existing.conversationId}`);
    }
    const view = this.view({ tenantId: input.tenantId, userId: input.actor });
    if (!view.ok) return view;
    return ok({ created: !existing, conversation: view.value });
  }

  createGroup(input: { tenantId: string; conversationId: string; name: string; owner: string; members: string[]; now: number }): Result<ConversationView> {
    if (this.store.getRoom()) return fail("conflict", "conversation already exists");
    const others = [...new Set(input.members)].filter((id) => id !== input.owner);
    this.store.create({
      tenantId: input.tenantId,
      conversationId: input.conversationId,
      type: "group",
      name: input.name,
      createdBy: input.owner,
      members: [{ userId: input.owner, role: "owner" }, ...others.map((userId) => ({ userId, role: "member" as const }))],
      now: input.now,
    });
    return this.view({ tenantId: input.tenantId, userId: input.owner });
  }

  /**
   * Send a message. A repeated (sender, clientId) returns the stored message and writes nothing, even
   * when the send would be refused now (rate limit, a mention of someone who left). The idempotency
   * key is checked by the insert itself, so a fresh message costs no lookup.
   */
  send(actor: Actor, input: SendInput, now: number, onStored?: (result: SendResult) => void): Result<SendResult> {
    const result = this.sendFresh(actor, input, now, onStored);
    if (result.ok || !this.accessAsAdmin(actor).ok) return result;
    const existing = this.store.findByClientId(actor.userId, input.clientId);
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
    if (checked.kind === "crm" && actor.userId !== BOT_USER_ID) {
      return fail("forbidden", "kind: crm cards are posted by the tenant's bot");
    }
    const mentions = checked.body.mentions;
    if (Array.isArray(mentions)) {
      const unknown = mentions.find((m) => m !== "all" && !this.store.member(String(m)));
      if (unknown !== undefined) return fail("invalid_request", `body.mentions: ${String(unknown)} is not a member`);
    }
    if (input.replyTo !== undefined) {
      const target = this.store.message(input.replyTo);
      if (!target || target.kind === "system") return fail("invalid_request", `replyTo: no message ${input.replyTo} to reply to`);
    }
    const ref = attachmentRefOf(checked.kind, checked.body);
    if (ref) {
      // The attachment must be an upload of this sender to this conversation; its facts come from the upload.
      const upload = this.store.attachment(String(ref.id));
      if (!upload || upload.uploader !== actor.userId) return fail("invalid_request", "body.attachment.id: no such upload of yours in this conversation");
      if (checked.kind === "image" && !upload.contentType.startsWith("image/")) return fail("invalid_request", "kind: image needs an image attachment");
      checked.body.attachment = { id: upload.id, name: upload.name, size: upload.size, contentType: upload.contentType };
      if (checked.kind !== "approval" && upload.width !== undefined && upload.height !== undefined) {
        checked.body.width = upload.width;
        checked.body.height = upload.height;
      }
    }
    let replyTo = input.replyTo;
    if (checked.kind === "crm") {
      // A later event about the same CRM object is a new card that references the first one.
      const b = checked.body;
      const first = this.store.firstCard(String(b.source), String(b.objectType), String(b.objectId));
      if (first !== undefined) {
        b.updates = first;
        replyTo ??= first;
      } else {
        delete b.updates;
      }
    }
    if (checked.kind === "approval") {
      const approvers = checked.body.approvers as string[];
      const outsider = approvers.find((a) => !this.store.member(a));
      if (outsider !== undefined) return fail("invalid_request", `body.approvers: ${outsider} is not a member`);
      checked.body.state = "pending";
      checked.body.decisions = [];
    }
    if (!access.value.member) {
      // The tenant's administrator joins before its first message, in the open: everyone sees it arrive.
      if (this.store.activeMembers().size + 1 > LIMITS.membersPerGroup) {
        return fail("invalid_request", `the conversation has ${LIMITS.membersPerGroup} members: ${actor.userId} cannot join it`);
      }
      this.store.addMembers([actor.userId], now);
      this.system(actor.userId, { event: "members_added", actor: actor.userId, userIds: [actor.userId] }, now);
    }
    const result = this.store.append({
      sender: actor.userId,
      clientId: input.clientId,
      kind: checked.kind,
      body: checked.body,
      now,
      replyTo,
    });
    if (ref && result.status === "created") this.store.markAttachmentSent(String(ref.id), result.message.seq);
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

  history(actor: Actor, range: { after?: number | undefined; before?: number | undefined; limit: number }): Result<Message[]> {
    const access = this.access(actor);
    if (!access.ok) return access;
    return ok(this.decorate(actor.userId, this.store.page(range)));
  }

  /**
   * Messages as one reader sees them: with current reactions, without the ones they deleted for
   * themselves. Used by history and by replay on connect.
   */
  decorate(userId: string, messages: Message[]): Message[] {
    const first = messages[0]?.seq;
    const last = messages.at(-1)?.seq;
    if (first === undefined || last === undefined) return messages;
    const reactions = this.store.reactionsBetween(first, last);
    const hidden = this.store.hiddenBetween(userId, first, last);
    return messages
      .filter((m) => !hidden.has(m.seq))
      .map((m) => {
        const r = reactions.get(m.seq);
        return r ? { ...m, reactions: r } : m;
      });
  }

  /** Add or remove a reaction: one per emoji per person; each change is a `system` event in order. */
  react(actor: Actor, seq: number, emoji: string, add: boolean, now: number): Result<{ changed: boolean; reactions: Record<string, string[]> }> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const target = this.store.message(seq);
    if (!target || target.kind === "system") return fail("not_found", `no message ${seq}`);
    if (target.recalled) return fail("conflict", "the message was recalled");
    if (add && this.store.reactionCount(seq, actor.userId) >= REACTIONS_PER_USER_MESSAGE) {
      return fail("invalid_request", `emoji: at most ${REACTIONS_PER_USER_MESSAGE} different reactions per message`);
    }
    const changed = this.store.setReaction(seq, actor.userId, emoji, add, now);
    if (changed) this.system(actor.userId, { event: add ? "reaction_added" : "reaction_removed", target: seq, emoji, userIds: [actor.userId] }, now);
    return ok({ changed, reactions: this.store.reactionsBetween(seq, seq).get(seq) ?? {} });
  }

  /** Edit one's own message within the tenant's window; the earlier body is kept. */
  edit(actor: Actor, seq: number, body: unknown, policy: LifecyclePolicy, now: number): Result<Message> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const target = this.store.message(seq);
    if (!target || target.kind === "system") return fail("not_found", `no message ${seq}`);
    if (target.sender !== actor.userId) return fail("forbidden", "only the author can edit a message");
    if (target.recalled) return fail("conflict", "the message was recalled");
    if (!EDITABLE_KINDS.includes(target.kind)) return fail("invalid_request", `kind: ${target.kind} messages cannot be edited`);
    if (now - target.ts > policy.editWindowMs) return fail("forbidden", `messages can be edited for ${Math.round(policy.editWindowMs / 1000)} s after sending`);
    const checked = checkMessageBody(target.kind, body);
    if (!checked.ok) return fail("invalid_request", checked.message);
    const mentions = checked.body.mentions;
    if (Array.isArray(mentions)) {
      const unknown = mentions.find((m) => m !== "all" && !this.store.member(String(m)));
      if (unknown !== undefined) return fail("invalid_request", `body.mentions: ${String(unknown)} is not a member`);
    }
    this.store.recordEdit(seq, this.store.versionOf(seq) ?? 1, target.body, now);
    const revised = this.store.reviseMessage(seq, { body: checked.body, editedAt: now });
    if (!revised) return fail("not_found", `no message ${seq}`);
    this.system(actor.userId, { event: "message_edited", target: seq, body: checked.body, editedAt: now, userIds: [actor.userId] }, now);
    return ok(revised);
  }

  /** The bodies a message had before its edits, oldest first. */
  editHistory(actor: Actor, seq: number): Result<{ seq: number; edits: { version: number; body: JsonObject; replacedAt: number }[] }> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const target = this.store.message(seq);
    if (!target || target.kind === "system") return fail("not_found", `no message ${seq}`);
    return ok({ seq, edits: target.recalled ? [] : this.store.edits(seq) });
  }

  /**
   * Recall a message: its author within the tenant's window, or a group owner/admin at any time.
   * The body is removed everywhere (a tombstone remains); edit history goes with it.
   */
  recall(actor: Actor, seq: number, policy: LifecyclePolicy, now: number): Result<Message> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const { room, member } = access.value;
    const target = this.store.message(seq);
    if (!target || target.kind === "system") return fail("not_found", `no message ${seq}`);
    if (target.recalled) return ok(target);
    const moderator = room.type === "group" && (member.role === "owner" || member.role === "admin");
    if (target.sender !== actor.userId && !moderator) return fail("forbidden", "only the author or a group admin can recall a message");
    if (target.sender === actor.userId && !moderator && now - target.ts > policy.recallWindowMs) {
      return fail("forbidden", `messages can be recalled for ${Math.round(policy.recallWindowMs / 1000)} s after sending`);
    }
    this.store.forgetEdits(seq);
    const attachmentId = attachmentRefOf(target.kind, target.body)?.id;
    if (typeof attachmentId === "string" && attachmentId) this.store.discardAttachment(attachmentId, now);
    // Edit events carried the body too: they keep their place in the sequence, without it.
    for (const event of this.store.editEventsOf(seq)) {
      const { body: _body, ...rest } = event.body;
      this.store.reviseMessage(event.seq, { body: { ...rest, redacted: true } });
    }
    const revised = this.store.reviseMessage(seq, { body: {}, recalled: true });
    if (!revised) return fail("not_found", `no message ${seq}`);
    this.system(actor.userId, { event: "message_recalled", target: seq, userIds: [target.sender] }, now);
    return ok(revised);
  }

  /** Record an upload to this conversation by a member (the bytes are already in R2). */
  registerAttachment(actor: Actor, upload: Omit<AttachmentRecord, "uploader" | "sentSeq">): Result<AttachmentRecord> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const record: AttachmentRecord = { ...upload, uploader: actor.userId };
    this.store.registerAttachment(record);
    return ok(record);
  }

  /**
   * An attachment a member may download: one that was sent in this conversation (and not recalled),
   * or their own upload.
   */
  attachmentFor(actor: Actor, id: string): Result<AttachmentRecord> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const a = this.store.attachment(id);
    if (!a || (a.sentSeq == null && a.uploader !== actor.userId)) return fail("not_found", "attachment not found");
    return ok(a);
  }

  /** Act on a CRM card: recorded as a `card_action` event in the sequence. */
  cardAction(actor: Actor, seq: number, action: string, now: number): Result<{ card: Message }> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const card = this.store.message(seq);
    if (!card || card.kind !== "crm" || card.recalled) return fail("not_found", `no card ${seq}`);
    this.system(actor.userId, { event: "card_action", target: seq, action, userIds: [actor.userId] }, now);
    return ok({ card });
  }

  /** Delete a message for oneself only: it disappears from one's own history and replay. */
  hide(actor: Actor, seq: number): Result<{ hidden: boolean }> {
    const access = this.access(actor);
    if (!access.ok) return access;
    if (!this.store.message(seq)) return fail("not_found", `no message ${seq}`);
    const hidden = this.store.hide(actor.userId, seq);
    if (hidden) this.fanout.toUser(actor.userId, { type: "hidden", seq });
    return ok({ hidden: true });
  }

  /** "Read by N of M": the other members whose read cursor has reached the message. */
  receipts(actor: Actor, seq: number): Result<{ seq: number; readBy: string[]; count: number; of: number }> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const target = this.store.message(seq);
    if (!target) return fail("not_found", `no message ${seq}`);
    const others = [...this.store.activeMembers().values()].filter((m) => m.userId !== target.sender);
    const readBy = others.filter((m) => m.readSeq >= seq).map((m) => m.userId).sort();
    return ok({ seq, readBy, count: readBy.length, of: others.length });
  }

  /**
   * Decide an approval request. Only listed approvers decide, each once; one rejection rejects, and
   * the request is approved when every approver has approved. A decided request takes no more
   * decisions. The decision is a new `approval` message referencing the request, and the request's
   * own body carries the current state (so history shows it).
   */
  decide(actor: Actor, seq: number, input: { clientId: string; decision: "approve" | "reject"; comment?: string | undefined }, now: number): Result<{
    decision: SendResult;
    request: Message;
    final: boolean;
  }> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const existing = this.store.findByClientId(actor.userId, input.clientId);
    if (existing) {
      const request = this.store.message(seq);
      if (request) return ok({ decision: { status: "duplicate", message: existing }, request, final: request.body.state !== "pending" });
    }
    const request = this.store.message(seq);
    if (!request || request.kind !== "approval" || request.body.request !== undefined) return fail("not_found", `no approval request ${seq}`);
    if (request.recalled) return fail("conflict", "the request was recalled");
    const approvers = (request.body.approvers ?? []) as string[];
    if (!approvers.includes(actor.userId)) return fail("forbidden", "only the listed approvers can decide");
    if (request.body.state !== "pending") return fail("conflict", `the request is already ${String(request.body.state)}`);
    const decisions = ((request.body.decisions ?? []) as JsonObject[]).slice();
    if (decisions.some((d) => d.by === actor.userId)) return fail("conflict", "you have already decided this request");
    const verdict = input.decision === "approve" ? "approved" : "rejected";
    decisions.push({ by: actor.userId, decision: verdict, ...(input.comment ? { comment: input.comment } : {}), at: now });
    const approvedBy = new Set(decisions.filter((d) => d.decision === "approved").map((d) => d.by));
    const state = verdict === "rejected" ? "rejected" : approvers.every((a) => approvedBy.has(a)) ? "approved" : "pending";
    const updated = this.store.reviseMessage(seq, { body: { ...request.body, state, decisions } });
    if (!updated) return fail("not_found", `no approval request ${seq}`);
    const result = this.store.append({
      sender: actor.userId,
      clientId: input.clientId,
      kind: "approval",
      body: { request: seq, decision: verdict, state, ...(input.comment ? { comment: input.comment } : {}) },
      now,
      replyTo: seq,
    });
    this.fanout.broadcast({ type: "message", message: result.message });
    return ok({ decision: result, request: updated, final: state !== "pending" });
  }

  /** Move the actor's read cursor; other sockets learn of it. `origin` is the socket that asked, if any. */
  markRead(actor: Actor, seq: number, origin?: unknown): Result<{ readSeq: number }> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const moved = this.store.markRead(actor.userId, seq);
    if (moved !== undefined) {
      this.fanout.broadcast({ type: "read", userId: actor.userId, seq: moved }, (_user, socket) => socket === origin && origin !== undefined);
    }
    return ok({ readSeq: this.store.member(actor.userId)?.readSeq ?? 0 });
  }

  setMuted(actor: Actor, muted: boolean): Result<{ conversationId: string; muted: boolean }> {
    const access = this.access(actor);
    if (!access.ok) return access;
    this.store.setMuted(actor.userId, muted);
    return ok({ conversationId: access.value.room.conversationId, muted });
  }

  typing(actor: Actor): void {
    if (!this.access(actor).ok) return;
    this.fanout.broadcast({ type: "typing", userId: actor.userId }, (userId) => userId === actor.userId);
  }

  addMembers(actor: Actor, userIds: readonly string[], now: number): Result<ConversationView> {
    const access = this.accessAsAdmin(actor);
    if (!access.ok) return access;
    const { room, member } = access.value;
    const authority = actor.tenantAdmin || !member ? tenantAdminAuthority(actor.userId) : member;
    const allowed = canAddMembers(room.type, authority.role);
    if (!allowed.ok) return fail(allowed.code, allowed.message);
    const wanted = [...new Set(userIds)];
    const newcomers = wanted.filter((id) => !this.store.member(id));
    if (this.store.activeMembers().size + newcomers.length > LIMITS.membersPerGroup) {
      return fail("invalid_request", `userIds: a group has at most ${LIMITS.membersPerGroup} members`);
    }
    const added = this.store.addMembers(newcomers, now);
    if (added.length > 0) this.system(actor.userId, { event: "members_added", actor: actor.userId, userIds: added }, now);
    return this.view(actor);
  }

  removeMember(actor: Actor, userId: string, now: number): Result<{ removed: boolean }> {
    const access = this.accessAsAdmin(actor);
    if (!access.ok) return access;
    const { room, member } = access.value;
    const target = this.store.member(userId);
    if (!target) return fail("not_found", `${userId} is not a member`);
    const authority = actor.tenantAdmin || !member ? tenantAdminAuthority(actor.userId) : member;
    const allowed = canRemoveMember(room.type, authority, target);
    if (!allowed.ok) return fail(allowed.code, allowed.message);
    const leaving = userId === actor.userId;
    this.store.removeMember(userId);
    this.system(
      actor.userId,
      { event: leaving ? "member_left" : "member_removed", actor: actor.userId, userIds: [userId] },
      now,
    );
    if (target.role === "owner") {
      const heir = nextOwner([...this.store.activeMembers().values()]);
      if (heir) {
        this.store.setRole(heir.userId, "owner");
        this.system(actor.userId, { event: "owner_changed", actor: actor.userId, userIds: [heir.userId], role: "owner" }, now);
      }
    }
    this.fanout.disconnectUser(userId, CLOSE_NOT_MEMBER, leaving ? "you left this conversation" : "you were removed from this conversation");
    return ok({ removed: true });
  }

  setRole(actor: Actor, userId: string, role: Role, now: number): Result<ConversationView> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const { room, member } = access.value;
    const target = this.store.member(userId);
    if (!target) return fail("not_found", `${userId} is not a member`);
    const allowed = canChangeRole(room.type, member, target, role);
    if (!allowed.ok) return fail(allowed.code, allowed.message);
    if (target.role === role) return this.view(actor);
    if (role === "owner") {
      this.store.setRole(actor.userId, "admin");
      this.store.setRole(userId, "owner");
      this.system(actor.userId, { event: "owner_changed", actor: actor.userId, userIds: [userId], role }, now);
    } else {
      this.store.setRole(userId, role);
      this.system(actor.userId, { event: "role_changed", actor: actor.userId, userIds: [userId], role }, now);
    }
    return this.view(actor);
  }

  /** A membership change as a `system` message in the conversation's own sequence. */
  private system(actor: string, body: JsonObject, now: number): void {
    const result = this.store.append({ sender: "system", clientId: `sys:${crypto.randomUUID()}`, kind: "system", body: { ...body, actor }, now });
    this.fanout.broadcast({ type: "message", message: result.message });
  }
}
