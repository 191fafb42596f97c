import { drizzle } from "drizzle-orm/d1";
import { and, asc, eq, gt, isNull, or, sql, type SQL } from "drizzle-orm";
import { memberships, users } from "./schema";
import { BOT_USER_ID } from "../protocol/ids";

/** A person as the tenant's administrator sees them. */
export interface UserListing {
  id: string;
  name: string;
  title: string | null;
  avatarUrl: string | null;
  createdAt: number;
  updatedAt: number;
  deactivatedAt: number | null;
}

/** What authentication needs to know about a user: which tokens still count, and whether they may sign in. */
export interface UserStatus {
  tokenGeneration: number;
  deactivated: boolean;
}


/** Users in id order, a page at a time; `q` matches a substring of the id or the name (case-insensitive for ASCII). */
export async function listUsers(
  db: D1Database,
  tenantId: string,
  options: { q?: string | undefined; after?: string | undefined; limit: number; activeOnly?: boolean },
): Promise<{ users: UserListing[]; nextCursor: string | null }> {
  const where: SQL[] = [eq(users.tenantId, tenantId)];
  if (options.after !== undefined) where.push(gt(users.id, options.after));
  if (options.activeOnly) where.push(isNull(users.deactivatedAt), sql`${users.id} <> ${BOT_USER_ID}`);
  if (options.q) {
    // instr, not LIKE: no wildcards to escape, and no pattern-length limit (D1 refuses long LIKE patterns).
    const q = options.q.toLowerCase();
    const match = or(sql`instr(lower(${users.id}), ${q}) > 0`, sql`instr(lower(${users.name}), ${q}) > 0`);
    if (match) where.push(match);
  }
  const rows = await drizzle(db)
    .select({
      id: users.id,
      name: users.name,
      title: users.title,
      avatarUrl: users.avatarUrl,
      createdAt: users.createdAt,
      updatedAt: users.updatedAt,
      deactivatedAt: users.deactivatedAt,
    })
    .from(users)
    .where(and(...where))
    .orderBy(asc(users.id))
    .limit(options.limit + 1)
    .all();
  const page = rows.slice(0, options.limit);
  return { users: page, nextCursor: rows.length > options.limit ? (page.at(-1)?.id ?? null) : null };
}

export async function userStatus(db: D1Database, tenantId: string, userId: string): Promise<UserStatus | undefined> {
  const row = await drizzle(db)
    .select({ tokenGeneration: users.tokenGeneration, deactivatedAt: users.deactivatedAt })
    .from(users)
    .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)))
    .get();
  return row ? { tokenGeneration: row.tokenGeneration, deactivated: row.deactivatedAt !== null } : undefined;
}

/**
 * The tenant's people whose tokens are not all valid: any with a revoked generation or deactivated.
 * Everyone else has generation 0 and is active (people are deactivated, never deleted). Undefined when
 * there are more than `limit` of them: ask per person then.
 */
export async function statusExceptions(db: D1Database, tenantId: string, limit: number): Promise<Map<string, UserStatus> | undefined> {
  const rows = await drizzle(db)
    .select({ id: users.id, tokenGeneration: users.tokenGeneration, deactivatedAt: users.deactivatedAt })
    .from(users)
    .where(and(eq(users.tenantId, tenantId), or(sql`${users.tokenGeneration} <> 0`, sql`${users.deactivatedAt} IS NOT NULL`)))
    .limit(limit + 1)
    .all();
  if (rows.length > limit) return undefined;
  return new Map(rows.map((r) => [r.id, { tokenGeneration: r.tokenGeneration, deactivated: r.deactivatedAt !== null }]));
}

/** Move the user's token generation on: every token issued before stops working. Undefined for an unknown user. */
export async function revokeUserTokens(db: D1Database, tenantId: string, userId: string): Promise<number | undefined> {
  const [row] = await drizzle(db)
    .update(users)
    .set({ tokenGeneration: sql`${users.tokenGeneration} + 1` })
    .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)))
    .returning({ tokenGeneration: users.tokenGeneration });
  return row?.tokenGeneration;
}

/** Deactivate (and revoke every token of) a user; `changed` is false when they already were. */
export async function deactivateUser(db: D1Database, tenantId: string, userId: string, now: number): Promise<{ changed: boolean } | undefined> {
  const orm = drizzle(db);
  const [row] = await orm
    .update(users)
    .set({ deactivatedAt: sql`coalesce(${users.deactivatedAt}, ${now})`, tokenGeneration: sql`${users.tokenGeneration} + 1` })
    .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)))
    .returning({ deactivatedAt: users.deactivatedAt });
  return row ? { changed: row.deactivatedAt === now } : undefined;
}

/** Let a deactivated user sign in again (their old tokens stay revoked). */
export async function reactivateUser(db: D1Database, tenantId: string, userId: string): Promise<{ changed: boolean } | undefined> {
  const orm = drizzle(db);
  const before = await userStatus(db, tenantId, userId);
  if (!before) return undefined;
  if (!before.deactivated) return { changed: false };
  await orm.update(users).set({ deactivatedAt: null }).where(and(eq(users.tenantId, tenantId), eq(users.id, userId)));
  return { changed: true };
}

/** The conversations a user belongs to, as the D1 mirror knows them. */
export async function conversationsOfUser(db: D1Database, tenantId: string, userId: string): Promise<string[]> {
  const rows = await drizzle(db)
    .select({ id: memberships.conversationId })
    .from(memberships)
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)))
    .all();
  return rows.map((r) => r.id);
}
