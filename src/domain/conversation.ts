import type { JsonObject, Message, ServerFrame } from "../protocol/frames";
import { LIMITS } from "../protocol/limits";
import { BOT_USER_ID } from "../protocol/ids";
import type { RoomStore, Room, MemberState, SendResult } from "../storage/room-store";
import { checkMessageBody, previewOf } from "./kinds";
import { canAddMembers, canChangeRole, canRemoveMember, nextOwner, type ConversationType, type Role } from "./membership";
import { fail, ok, type Actor, type Failure, type Result } from "./result";
import { TokenBucket } from "./rate";

/** How the conversation reaches its live sockets; the Durable Object implements it. */
export interface Fanout {
  /** Send one frame to every socket, except those for which `skip` says so. */
  broadcast(frame: ServerFrame, skip?: (userId: string, socketKey: unknown) => boolean): void;
  /** Close every socket of a user after telling them why. */
  disconnectUser(userId: string, code: number, message: string): void;
}

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
}

/** Close code for a socket whose user is no longer a member. */
export const CLOSE_NOT_MEMBER = 4403;

/**
 * The rules of one conversation: membership, ordering, idempotent sends and read cursors, over its
 * store. Every method is synchronous from check to write to broadcast, so nothing interleaves and a
 * broadcast always follows the write it announces.
 */
export class Conversation {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly store: RoomStore,
    private readonly fanout: Fanout,
  ) {}

  exists(): boolean {
    return this.store.getRoom() !== null;
  }

  /** The room if it exists and belongs to the actor's tenant and the actor is an active member. */
  private access(actor: Actor): Result<{ room: Room; member: MemberState }> {
    const room = this.store.getRoom();
    if (!room || room.tenantId !== actor.tenantId) return fail("not_found", "conversation not found");
    const member = this.store.member(actor.userId);
    if (!member) return fail("not_found", "conversation not found");
    return ok({ room, member });
  }

  isMember(actor: Actor): boolean {
    return this.access(actor).ok;
  }

  view(actor: Actor): Result<ConversationView> {
    const access = this.access(actor);
    if (!access.ok) return access;
    return ok(this.viewFor(access.value.room, access.value.member));
  }

  private viewFor(room: Room, member: MemberState): ConversationView {
    const members = [...this.store.activeMembers().values()];
    const last = room.lastSeq > 0 ? this.store.page({ after: room.lastSeq - 1, limit: 1 })[0] : undefined;
    return {
      id: room.conversationId,
      type: room.type,
      name: room.name,
      members: members.map((m) => m.userId).sort(),
      roles: Object.fromEntries(members.map((m) => [m.userId, m.role])),
      createdAt: room.createdAt,
      lastSeq: room.lastSeq,
      readSeq: member.readSeq,
      unread: Math.max(0, room.lastSeq - member.readSeq),
      muted: member.muted,
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

  /** Send a message. A repeated (sender, clientId) returns the stored message and writes nothing. */
  send(actor: Actor, input: SendInput, now: number, onStored?: (result: SendResult) => void): Result<SendResult> {
    const access = this.access(actor);
    if (!access.ok) return access;
    const existing = this.store.findByClientId(actor.userId, input.clientId);
    if (existing) {
      const duplicate: SendResult = { status: "duplicate", message: existing };
      onStored?.(duplicate);
      return ok(duplicate);
    }
    const limited = this.takeSendToken(actor, now);
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
    const result = this.store.append({ sender: actor.userId, clientId: input.clientId, kind: checked.kind, body: checked.body, now });
    onStored?.(result);
    if (result.status === "created") this.fanout.broadcast({ type: "message", message: result.message });
    return ok(result);
  }

  private takeSendToken(actor: Actor, now: number): Failure | undefined {
    const key = `${actor.userId}\u0000${actor.deviceId ?? ""}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(LIMITS.sendBurst, LIMITS.sendPerSecond, now);
      this.buckets.set(key, bucket);
    }
    const taken = bucket.take(now);
    if (taken.ok) return undefined;
    return fail("rate_limited", `too many messages: at most ${LIMITS.sendPerSecond} per second per device`, taken.retryAfterMs);
  }

  history(actor: Actor, range: { after?: number | undefined; before?: number | undefined; limit: number }): Result<Message[]> {
    const access = this.access(actor);
    if (!access.ok) return access;
    return ok(this.store.page(range));
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
    const access = this.access(actor);
    if (!access.ok) return access;
    const { room, member } = access.value;
    const allowed = canAddMembers(room.type, member.role);
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
    const access = this.access(actor);
    if (!access.ok) return access;
    const { room, member } = access.value;
    const target = this.store.member(userId);
    if (!target) return fail("not_found", `${userId} is not a member`);
    const allowed = canRemoveMember(room.type, member, target);
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
