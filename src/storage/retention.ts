import { drizzle } from "drizzle-orm/d1";
import { and, asc, eq, gt, inArray, isNotNull, lt, notExists, sql } from "drizzle-orm";
import { QueryBuilder } from "drizzle-orm/sqlite-core";
import { conversations, hiddenMessages, messages, tenants } from "./schema";

/** D1 side of the retention policy: which tenants expire history, and deleting it in bounded steps. */

export interface RetentionPolicy {
  tenantId: string;
  retentionDays: number;
}

export async function tenantsWithRetention(db: D1Database): Promise<RetentionPolicy[]> {
  const rows = await drizzle(db)
    .select({ tenantId: tenants.id, retentionDays: tenants.retentionDays })
    .from(tenants)
    .where(isNotNull(tenants.retentionDays))
    .orderBy(asc(tenants.id))
    .all();
  return rows.flatMap((r) => (r.retentionDays === null ? [] : [{ tenantId: r.tenantId, retentionDays: r.retentionDays }]));
}

/**
 * Delete up to `max` history rows older than `cutoff` (the search index follows through the delete
 * trigger). Returns how many were deleted; call again while it returns `max`.
 */
export async function purgeHistory(db: D1Database, tenantId: string, cutoff: number, max = 5_000): Promise<number> {
  const orm = drizzle(db);
  const qb = new QueryBuilder();
  const expired = qb
    .select({ id: messages.id })
    .from(messages)
    .where(and(eq(messages.tenantId, tenantId), lt(messages.ts, cutoff)))
    .limit(max);
  const result = await orm.delete(messages).where(inArray(messages.id, expired));
  await orm
    .update(conversations)
    .set({ lastMessage: null })
    .where(and(eq(conversations.tenantId, tenantId), lt(conversations.activityAt, cutoff), isNotNull(conversations.lastMessage)));
  // "Deleted for me" markers go with the messages they hide.
  const h = hiddenMessages;
  const orphaned = qb
    .select({ rowid: sql`${h}.rowid` })
    .from(h)
    .where(
      and(
        eq(h.tenantId, tenantId),
        notExists(
          qb
            .select({ one: sql`1` })
            .from(messages)
            .where(and(eq(messages.tenantId, h.tenantId), eq(messages.conversationId, h.conversationId), eq(messages.seq, h.seq))),
        ),
      ),
    )
    .limit(max);
  await orm.delete(h).where(inArray(sql`rowid`, orphaned));
  return result.meta.changes;
}

/** Conversations of a tenant with activity before `cutoff` (whose objects may hold expired messages), after `afterId`. */
export async function conversationsActiveBefore(db: D1Database, tenantId: string, cutoff: number, afterId: string, limit: number): Promise<string[]> {
  const rows = await drizzle(db)
    .select({ id: conversations.id })
    .from(conversations)
    .where(and(eq(conversations.tenantId, tenantId), lt(conversations.createdAt, cutoff), gt(conversations.id, afterId)))
    .orderBy(asc(conversations.id))
    .limit(limit)
    .all();
  return rows.map((r) => r.id);
}
