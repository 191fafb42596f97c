import { drizzle } from "drizzle-orm/d1";
import { and, eq, isNull, sql } from "drizzle-orm";
import { users } from "./schema";
import { BOT_USER_ID } from "../protocol/ids";

export interface User {
  id: string;
  name: string;
  title: string | null;
  avatarUrl: string | null;
  /** The person's ids in the tenant's CRM systems, by system name. */
  crm: Record<string, string>;
  /** The person administers the tenant's CRM (default inbox member of new integrations). */
  crmAdmin: boolean;
  createdAt: number;
  updatedAt: number;
}

/** A CRM id as given, and its comparable form (unique per tenant and system). */
export interface CrmIdentity {
  system: string;
  crmId: string;
  crmKey: string;
}

export interface UserProfile {
  name: string;
  title?: string | undefined;
  avatarUrl?: string | undefined;
  /** Replaces all of the person's CRM ids when given; left out, they are kept. */
  crm?: readonly CrmIdentity[] | undefined;
  /** Left out, it is kept. */
  crmAdmin?: boolean | undefined;
}

/** A CRM id that another person of the tenant already holds. */
export class CrmIdTaken extends Error {
  constructor(readonly system: string, readonly crmId: string, readonly holder: string | undefined) {
    super(`crm.${system}: ${crmId} is already the id of ${holder ?? "another user"}`);
  }
}

interface UserRow {
  id: string;
  name: string;
  title: string | null;
  avatarUrl: string | null;
  crmAdmin: number;
  createdAt: number;
  updatedAt: number;
}

const COLUMNS = `id, name, title, avatar_url AS avatarUrl, crm_admin AS crmAdmin, created_at AS createdAt, updated_at AS updatedAt`;

/**
 * Insert or update a user. Profile fields left out are cleared, as with any PUT; `crm` and `crmAdmin`
 * left out are kept (a CRM sync of names need not know them). Profile and CRM ids change together in
 * one batch, or not at all when a CRM id is another person's (CrmIdTaken).
 */
export async function upsertUser(db: D1Database, tenantId: string, id: string, profile: UserProfile, now: number): Promise<User> {
  if (profile.crm) {
    const holders = await crmHolders(db, tenantId, profile.crm);
    const clash = profile.crm.find((c) => {
      const holder = holders.get(`${c.system}\n${c.crmKey}`);
      return holder !== undefined && holder !== id;
    });
    if (clash) throw new CrmIdTaken(clash.system, clash.crmId, holders.get(`${clash.system}\n${clash.crmKey}`));
  }
  const admin = profile.crmAdmin === undefined ? null : profile.crmAdmin ? 1 : 0;
  const upsert = db
    .prepare(
      `INSERT INTO users (tenant_id, id, name, title, avatar_url, crm_admin, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, 0), ?7, ?7)
       ON CONFLICT (tenant_id, id) DO UPDATE SET name = excluded.name, title = excluded.title, avatar_url = excluded.avatar_url,
         crm_admin = coalesce(?6, users.crm_admin), updated_at = excluded.updated_at
       RETURNING ${COLUMNS}`,
    )
    .bind(tenantId, id, profile.name, profile.title ?? null, profile.avatarUrl ?? null, admin, now);
  const statements: D1PreparedStatement[] = [upsert];
  if (profile.crm) {
    statements.push(db.prepare(`DELETE FROM user_crm_ids WHERE tenant_id = ?1 AND user_id = ?2`).bind(tenantId, id));
    if (profile.crm.length > 0) {
      statements.push(
        db
          .prepare(
            `INSERT INTO user_crm_ids (tenant_id, system, crm_key, crm_id, user_id)
             SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), ?2 FROM json_each(?3)`,
          )
          .bind(tenantId, id, JSON.stringify(profile.crm.map((c) => [c.system, c.crmKey, c.crmId]))),
      );
    }
  }
  let results: D1Result[];
  try {
    results = await db.batch(statements);
  } catch (err) {
    // Two people claiming the same CRM id at the same moment: the primary key lets one win.
    if (profile.crm && /UNIQUE|PRIMARY KEY|SQLITE_CONSTRAINT/i.test(String(err))) {
      const first = profile.crm[0];
      throw new CrmIdTaken(first?.system ?? "crm", first?.crmId ?? "", undefined);
    }
    throw err;
  }
  const row = (results[0]?.results as UserRow[] | undefined)?.[0];
  if (!row) throw new Error(`upsert of user ${tenantId}/${id} returned no row`);
  return withCrm(row, profile.crm ? crmMap(profile.crm) : await crmOf(db, tenantId, id));
}

export async function getUser(db: D1Database, tenantId: string, id: string): Promise<User | undefined> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM users WHERE tenant_id = ?1 AND id = ?2`).bind(tenantId, id).first<UserRow>();
  return row ? withCrm(row, await crmOf(db, tenantId, id)) : undefined;
}

function withCrm(row: UserRow, crm: Record<string, string>): User {
  return { ...row, crmAdmin: row.crmAdmin === 1, crm };
}

function crmMap(ids: readonly { system: string; crmId: string }[]): Record<string, string> {
  return Object.fromEntries([...ids].sort((a, b) => a.system.localeCompare(b.system)).map((c) => [c.system, c.crmId]));
}

async function crmOf(db: D1Database, tenantId: string, userId: string): Promise<Record<string, string>> {
  const { results } = await db
    .prepare(`SELECT system, crm_id AS crmId FROM user_crm_ids WHERE tenant_id = ?1 AND user_id = ?2`)
    .bind(tenantId, userId)
    .all<{ system: string; crmId: string }>();
  return crmMap(results);
}

/** Who holds each of the given (system, key) pairs, keyed `system\nkey`. */
async function crmHolders(db: D1Database, tenantId: string, ids: readonly CrmIdentity[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const { results } = await db
    .prepare(
      `SELECT system, crm_key AS crmKey, user_id AS userId FROM user_crm_ids
       WHERE tenant_id = ?1 AND (system, crm_key) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?2))`,
    )
    .bind(tenantId, JSON.stringify(ids.map((c) => [c.system, c.crmKey])))
    .all<{ system: string; crmKey: string; userId: string }>();
  return new Map(results.map((r) => [`${r.system}\n${r.crmKey}`, r.userId]));
}

/** Users holding any of the given CRM keys, in any system: one query, whatever the count. */
export async function usersByCrmKeys(db: D1Database, tenantId: string, keys: readonly string[]): Promise<{ system: string; crmKey: string; userId: string }[]> {
  if (keys.length === 0) return [];
  const { results } = await db
    .prepare(
      `SELECT system, crm_key AS crmKey, user_id AS userId FROM user_crm_ids
       WHERE tenant_id = ?1 AND crm_key IN (SELECT value FROM json_each(?2))`,
    )
    .bind(tenantId, JSON.stringify(keys))
    .all<{ system: string; crmKey: string; userId: string }>();
  return results;
}

/**
 * The default people of a CRM inbox: the users marked crmAdmin, longest-standing first (at most `max`);
 * when none is, the tenant's longest-standing person (never the bot). Empty only for a tenant with no users.
 */
export async function defaultInboxPeople(db: D1Database, tenantId: string, max: number): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT id FROM users WHERE tenant_id = ?1 AND id <> ?2 AND crm_admin = 1 ORDER BY created_at, id LIMIT ?3`,
    )
    .bind(tenantId, BOT_USER_ID, max)
    .all<{ id: string }>();
  if (results.length > 0) return results.map((r) => r.id);
  const first = await db
    .prepare(`SELECT id FROM users WHERE tenant_id = ?1 AND id <> ?2 ORDER BY created_at, id LIMIT 1`)
    .bind(tenantId, BOT_USER_ID)
    .first<{ id: string }>();
  return first ? [first.id] : [];
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
