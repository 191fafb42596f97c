import { drizzle } from "drizzle-orm/d1";
import { and, asc, eq, isNull, ne, sql } from "drizzle-orm";
import { userCrmIds, users } from "./schema";
import { inJson, jsonRows } from "./d1";
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

/** The columns of a user as the API shows them (besides their CRM ids). */
const PROFILE = {
  id: users.id,
  name: users.name,
  title: users.title,
  avatarUrl: users.avatarUrl,
  crmAdmin: users.crmAdmin,
  createdAt: users.createdAt,
  updatedAt: users.updatedAt,
};

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
  const orm = drizzle(db);
  const fields = { name: profile.name, title: profile.title ?? null, avatarUrl: profile.avatarUrl ?? null, updatedAt: now };
  const upsert = orm
    .insert(users)
    .values({ tenantId, id, ...fields, crmAdmin: profile.crmAdmin ?? false, createdAt: now })
    .onConflictDoUpdate({
      target: [users.tenantId, users.id],
      set: profile.crmAdmin === undefined ? fields : { ...fields, crmAdmin: profile.crmAdmin },
    })
    .returning(PROFILE);
  const crmWrites = [];
  if (profile.crm) {
    crmWrites.push(orm.delete(userCrmIds).where(and(eq(userCrmIds.tenantId, tenantId), eq(userCrmIds.userId, id))));
    if (profile.crm.length > 0) {
      const rows = profile.crm.map(({ system, crmKey, crmId }) => ({ system, crmKey, crmId }));
      crmWrites.push(orm.insert(userCrmIds).select(jsonRows(userCrmIds, rows, { tenantId, userId: id })));
    }
  }
  let row: UserRow | undefined;
  try {
    [[row]] = await orm.batch([upsert, ...crmWrites]);
  } catch (err) {
    // Two people claiming the same CRM id at the same moment: the primary key lets one win.
    if (profile.crm && /UNIQUE|PRIMARY KEY|SQLITE_CONSTRAINT/i.test(`${String(err)} ${String((err instanceof Error ? err.cause : undefined) ?? "")}`)) {
      const first = profile.crm[0];
      throw new CrmIdTaken(first?.system ?? "crm", first?.crmId ?? "", undefined);
    }
    throw err;
  }
  if (!row) throw new Error(`upsert of user ${tenantId}/${id} returned no row`);
  return { ...row, crm: profile.crm ? crmMap(profile.crm) : await crmOf(db, tenantId, id) };
}

type UserRow = Omit<User, "crm">;

export async function getUser(db: D1Database, tenantId: string, id: string): Promise<User | undefined> {
  const row = await drizzle(db)
    .select(PROFILE)
    .from(users)
    .where(and(eq(users.tenantId, tenantId), eq(users.id, id)))
    .get();
  return row ? { ...row, crm: await crmOf(db, tenantId, id) } : undefined;
}

function crmMap(ids: readonly { system: string; crmId: string }[]): Record<string, string> {
  return Object.fromEntries([...ids].sort((a, b) => a.system.localeCompare(b.system)).map((c) => [c.system, c.crmId]));
}

async function crmOf(db: D1Database, tenantId: string, userId: string): Promise<Record<string, string>> {
  const rows = await drizzle(db)
    .select({ system: userCrmIds.system, crmId: userCrmIds.crmId })
    .from(userCrmIds)
    .where(and(eq(userCrmIds.tenantId, tenantId), eq(userCrmIds.userId, userId)))
    .all();
  return crmMap(rows);
}

const HOLDER = { system: userCrmIds.system, crmKey: userCrmIds.crmKey, userId: userCrmIds.userId };

/** Who holds each of the given (system, key) pairs, keyed `system\nkey`. */
async function crmHolders(db: D1Database, tenantId: string, ids: readonly CrmIdentity[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const pairs = JSON.stringify(ids.map((c) => [c.system, c.crmKey]));
  const rows = await drizzle(db)
    .select(HOLDER)
    .from(userCrmIds)
    .where(
      and(
        eq(userCrmIds.tenantId, tenantId),
        sql`(${userCrmIds.system}, ${userCrmIds.crmKey}) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(${pairs}))`,
      ),
    )
    .all();
  return new Map(rows.map((r) => [`${r.system}\n${r.crmKey}`, r.userId]));
}

/** Users holding any of the given CRM keys, in any system: one query, whatever the count. */
export async function usersByCrmKeys(db: D1Database, tenantId: string, keys: readonly string[]): Promise<{ system: string; crmKey: string; userId: string }[]> {
  if (keys.length === 0) return [];
  return drizzle(db)
    .select(HOLDER)
    .from(userCrmIds)
    .where(and(eq(userCrmIds.tenantId, tenantId), inJson(userCrmIds.crmKey, keys)))
    .all();
}

/**
 * The default people of a CRM inbox: the users marked crmAdmin, longest-standing first (at most `max`);
 * when none is, the tenant's longest-standing person (never the bot). Empty only for a tenant with no users.
 */
export async function defaultInboxPeople(db: D1Database, tenantId: string, max: number): Promise<string[]> {
  const orm = drizzle(db);
  const people = (crmAdminsOnly: boolean, limit: number) =>
    orm
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.tenantId, tenantId), ne(users.id, BOT_USER_ID), crmAdminsOnly ? eq(users.crmAdmin, true) : undefined))
      .orderBy(asc(users.createdAt), asc(users.id))
      .limit(limit)
      .all();
  const admins = await people(true, max);
  if (admins.length > 0) return admins.map((r) => r.id);
  const [first] = await people(false, 1);
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
        inJson(users.id, ids),
      ),
    )
    .all();
  const known = new Set(rows.map((r) => r.id));
  return ids.filter((id) => !known.has(id));
}
