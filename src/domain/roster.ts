import { LIMITS } from "../protocol/limits";
import type { Conversation } from "./conversation";
import { CLOSE_CODES } from "../protocol/close-codes";
import { canAddMembers, canChangeRole, canRemoveMember, nextOwner, tenantAdminAuthority, type Role } from "./membership";
import type { ConversationView } from "./model";
import { fail, ok, type Actor, type Result } from "./result";

/**
 * Who is in a conversation: creating it with its first members, adding and removing members, roles and
 * owner succession. The rules are membership.ts; each change is also a `system` event in the log.
 */
export class Roster {
  constructor(private readonly conversation: Conversation) {}

  private get store() {
    return this.conversation.store;
  }

  /** Create the direct conversation of a pair, or return the one that exists. */
  openDirect(input: { tenantId: string; conversationId: string; members: [string, string]; actor: string; now: number }): Result<{
    created: boolean;
    conversation: ConversationView;
  }> {
    const existing = this.store.room.get();
    if (!existing) {
      this.store.room.create({
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
    const view = this.conversation.view({ tenantId: input.tenantId, userId: input.actor });
    if (!view.ok) return view;
    return ok({ created: !existing, conversation: view.value });
  }

  createGroup(input: { tenantId: string; conversationId: string; name: string; owner: string; members: string[]; now: number }): Result<ConversationView> {
    if (this.store.room.get()) return fail("conflict", "conversation already exists");
    const others = [...new Set(input.members)].filter((id) => id !== input.owner);
    this.store.room.create({
      tenantId: input.tenantId,
      conversationId: input.conversationId,
      type: "group",
      name: input.name,
      createdBy: input.owner,
      members: [{ userId: input.owner, role: "owner" }, ...others.map((userId) => ({ userId, role: "member" as const }))],
      now: input.now,
    });
    return this.conversation.view({ tenantId: input.tenantId, userId: input.owner });
  }

  addMembers(actor: Actor, userIds: readonly string[], now: number): Result<ConversationView> {
    const access = this.conversation.accessAsAdmin(actor);
    if (!access.ok) return access;
    const { room, member } = access.value;
    const authority = actor.tenantAdmin || !member ? tenantAdminAuthority(actor.userId) : member;
    const allowed = canAddMembers(room.type, authority.role);
    if (!allowed.ok) return fail(allowed.code, allowed.message);
    const newcomers = [...new Set(userIds)].filter((id) => !this.store.members.member(id));
    if (this.store.members.active().size + newcomers.length > LIMITS.membersPerGroup) {
      return fail("invalid_request", `userIds: a group has at most ${LIMITS.membersPerGroup} members`);
    }
    const added = this.store.members.add(newcomers, now);
    if (added.length > 0) this.conversation.system(actor.userId, { event: "members_added", userIds: added }, now);
    return this.conversation.view(actor);
  }

  /** Remove a member, or leave (userId is the actor); the owner's role passes on to the next owner. */
  removeMember(actor: Actor, userId: string, now: number): Result<{ removed: boolean }> {
    const access = this.conversation.accessAsAdmin(actor);
    if (!access.ok) return access;
    const { room, member } = access.value;
    const target = this.store.members.member(userId);
    if (!target) return fail("not_found", `${userId} is not a member`);
    const authority = actor.tenantAdmin || !member ? tenantAdminAuthority(actor.userId) : member;
    const allowed = canRemoveMember(room.type, authority, target);
    if (!allowed.ok) return fail(allowed.code, allowed.message);
    const leaving = userId === actor.userId;
    this.store.members.remove(userId);
    this.conversation.system(actor.userId, { event: leaving ? "member_left" : "member_removed", userIds: [userId] }, now);
    if (target.role === "owner") {
      const heir = nextOwner([...this.store.members.active().values()]);
      if (heir) {
        this.store.members.setRole(heir.userId, "owner");
        this.conversation.system(actor.userId, { event: "owner_changed", userIds: [heir.userId], role: "owner" }, now);
      }
    }
    this.conversation.fanout.disconnectUser(userId, CLOSE_CODES.notMember, leaving ? "you left this conversation" : "you were removed from this conversation");
    return ok({ removed: true });
  }

  setRole(actor: Actor, userId: string, role: Role, now: number): Result<ConversationView> {
    const access = this.conversation.access(actor);
    if (!access.ok) return access;
    const { room, member } = access.value;
    const target = this.store.members.member(userId);
    if (!target) return fail("not_found", `${userId} is not a member`);
    const allowed = canChangeRole(room.type, member, target, role);
    if (!allowed.ok) return fail(allowed.code, allowed.message);
    if (target.role === role) return this.conversation.view(actor);
    if (role === "owner") {
      this.store.members.setRole(actor.userId, "admin");
      this.store.members.setRole(userId, "owner");
      this.conversation.system(actor.userId, { event: "owner_changed", userIds: [userId], role }, now);
    } else {
      this.store.members.setRole(userId, role);
      this.conversation.system(actor.userId, { event: "role_changed", userIds: [userId], role }, now);
    }
    return this.conversation.view(actor);
  }
}
