import { drizzle } from "drizzle-orm/d1";
import { and, eq, isNull, sql } from "drizzle-orm";
import { users } from "./schema";

export interface User {
  id: string;
  name: string;
  title: string | null;
  avatarUrl: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface UserProfile {
  name: string;
  title?: string | undefined;
  avatarUrl?: string | undefined;
}

const columns = {
  id: users.id,
  name: users.name,
  title: users.title,
  avatarUrl: users.avatarUrl,
  createdAt: users.createdAt,
  updatedAt: users.updatedAt,
};

/** Insert or update a user; fields left out of the profile are cleared, as with any PUT. */
export async function upsertUser(db: D1Database, tenantId: string, id: string, profile: UserProfile, now: number): Promise<User> {
  const values = { name: profile.name, title: profile.title ?? null, avatarUrl: profile.avatarUrl ?? null, updatedAt: now };
  const [row] = await drizzle(db)
    .insert(users)
    .values({ tenantId, id, createdAt: now, ...values })
    .onConflictDoUpdate({ target: [users.tenantId, users.id], set: values })
    .returning(columns);
  if (!row) throw new Error(`upsert of user ${tenantId}/${id} returned no row`);
  return row;
}

export async function getUser(db: D1Database, tenantId: string, id: string): Promise<User | undefined> {
  return drizzle(db)
    .select(columns)
    .from(users)
    .where(and(eq(users.tenantId, tenantId), eq(users.id, id)))
    .get();
}

/** Of the given ids, those that are not (active) users of the tenant. One query, whatever the count. */
export async function unknownUserIds(db: D1Database, tenantId: string, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await drizzle(db)
    .select({ id: users.id })
    .from(users)
    .where(
      and(
        eq(users.tenantId, tenantId),
        isNull(users.deactivatedAt),
        sql`${users.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`,
      ),
    )
    .all();
  const known = new Set(rows.map((r) => r.id));
  return ids.filter((id) => !known.has(id));
}
