/** Roles in a group and what each may do. Pure rules; the conversation object applies them. */

export const ROLES = ["owner", "admin", "member"] as const;
export type Role = (typeof ROLES)[number];
export type ConversationType = "direct" | "group";

export interface Member {
  userId: string;
  role: Role;
  joinedAt: number;
}

export type Decision = { ok: true } | { ok: false; code: "forbidden" | "invalid_request" | "conflict"; message: string };

const allow: Decision = { ok: true };
const deny = (code: "forbidden" | "invalid_request" | "conflict", message: string): Decision => ({ ok: false, code, message });

/**
 * The tenant's administrator (the tenant backend, acting as `bot`) manages the membership of every
 * group of its tenant, member or not: it has the owner's rights over members. Roles and direct
 * conversations stay as they are.
 */
export function tenantAdminAuthority(userId: string): Member {
  return { userId, role: "owner", joinedAt: 0 };
}

/** Owners and admins add members to groups; direct conversations have fixed members. */
export function canAddMembers(type: ConversationType, actor: Role): Decision {
  if (type === "direct") return deny("forbidden", "direct conversations have fixed members");
  if (actor === "member") return deny("forbidden", "only the owner or an admin can add members");
  return allow;
}

/**
 * Anyone may leave a group (the owner's role then passes on); owners remove anyone,
 * admins remove plain members only.
 */
export function canRemoveMember(type: ConversationType, actor: Member, target: Member): Decision {
  if (type === "direct") return deny("forbidden", "direct conversations have fixed members");
  if (actor.userId === target.userId) return allow;
  if (actor.role === "owner") return allow;
  if (actor.role === "admin" && target.role === "member") return allow;
  return deny("forbidden", "only the owner, or an admin removing a plain member, can remove someone else");
}

/** Only the owner changes roles; ownership moves with role "owner" (the old owner becomes admin). */
export function canChangeRole(type: ConversationType, actor: Member, target: Member, role: Role): Decision {
  if (type === "direct") return deny("forbidden", "direct conversations have no roles");
  if (actor.role !== "owner") return deny("forbidden", "only the owner can change roles");
  if (actor.userId === target.userId && role !== "owner") {
    return deny("invalid_request", "role: the owner hands over ownership by making someone else owner");
  }
  return allow;
}

/** Who inherits ownership when the owner leaves: the longest-standing admin, else the longest-standing member. */
export function nextOwner(remaining: readonly Member[]): Member | undefined {
  const byTenure = [...remaining].sort((a, b) => a.joinedAt - b.joinedAt || a.userId.localeCompare(b.userId));
  return byTenure.find((m) => m.role === "admin") ?? byTenure[0];
}

/** The read cursor only moves forward and never past the last message. */
export function advanceReadCursor(current: number, requested: number, lastSeq: number): number {
  return Math.max(current, Math.min(requested, lastSeq));
}
