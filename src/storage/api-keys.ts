import { drizzle } from "drizzle-orm/d1";
import { and, asc, eq, ne } from "drizzle-orm";
import { apiKeys } from "./schema";

/** An api key as it is listed: never its hash, never the key. */
export interface ApiKeyView {
  id: string;
  label: string | null;
  createdAt: number;
  expiresAt: number | null;
}

/** The public id of a key, derived from its hash so that rows written before ids existed have one too. */
export function apiKeyIdOf(keyHash: string): string {
  return `key_${keyHash.slice(0, 16)}`;
}

/** The insert of a new key (given as its hash). */
export function apiKeyValues(tenantId: string, keyHash: string, now: number, options: { label?: string | undefined; expiresAt?: number | undefined } = {}) {
  return { keyHash, tenantId, createdAt: now, id: apiKeyIdOf(keyHash), label: options.label ?? null, expiresAt: options.expiresAt ?? null };
}

export async function addApiKey(
  db: D1Database,
  tenantId: string,
  keyHash: string,
  now: number,
  options: { label?: string | undefined; expiresAt?: number | undefined } = {},
): Promise<ApiKeyView> {
  const values = apiKeyValues(tenantId, keyHash, now, options);
  await drizzle(db).insert(apiKeys).values(values);
  return { id: values.id, label: values.label, createdAt: now, expiresAt: values.expiresAt };
}

/** The tenant and expiry of an api key, looked up by the key's hash. */
export async function apiKeyByHash(db: D1Database, keyHash: string): Promise<{ tenantId: string; expiresAt: number | null } | undefined> {
  return drizzle(db).select({ tenantId: apiKeys.tenantId, expiresAt: apiKeys.expiresAt }).from(apiKeys).where(eq(apiKeys.keyHash, keyHash)).get();
}

export async function listApiKeys(db: D1Database, tenantId: string): Promise<ApiKeyView[]> {
  const rows = await drizzle(db)
    .select({ keyHash: apiKeys.keyHash, id: apiKeys.id, label: apiKeys.label, createdAt: apiKeys.createdAt, expiresAt: apiKeys.expiresAt })
    .from(apiKeys)
    .where(eq(apiKeys.tenantId, tenantId))
    .orderBy(asc(apiKeys.createdAt))
    .all();
  return rows.map((r) => ({ id: r.id ?? apiKeyIdOf(r.keyHash), label: r.label, createdAt: r.createdAt, expiresAt: r.expiresAt }));
}

/**
 * Delete one of the tenant's keys, unless it is the last one that works (a tenant with no key cannot
 * administer itself; the operator would have to issue a new one). Returns the deleted key's hash.
 */
export async function revokeApiKey(db: D1Database, tenantId: string, id: string, now: number): Promise<{ status: "revoked"; keyHash: string } | { status: "not_found" } | { status: "last_key" }> {
  const orm = drizzle(db);
  const row = await orm.select({ keyHash: apiKeys.keyHash }).from(apiKeys).where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, id))).get();
  if (!row) return { status: "not_found" };
  const others = await orm
    .select({ expiresAt: apiKeys.expiresAt })
    .from(apiKeys)
    .where(and(eq(apiKeys.tenantId, tenantId), ne(apiKeys.keyHash, row.keyHash)))
    .all();
  if (!others.some((k) => k.expiresAt === null || k.expiresAt > now)) return { status: "last_key" };
  await orm.delete(apiKeys).where(eq(apiKeys.keyHash, row.keyHash));
  return { status: "revoked", keyHash: row.keyHash };
}
