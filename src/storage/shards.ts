/**
 * Which D1 database holds a tenant's data (users, conversation mirror, message history, search index).
 * Everything keyed by tenant and read together by search goes through here; deployment-wide tables
 * (tenants, api keys, integrations, endpoints, delivery logs) stay in the primary `DB`.
 * Today every tenant lives in `DB`. When one database is not enough (10 GB, one writer), tenants are
 * spread over several: a D1 binding per shard and a tenant-to-shard map, chosen here and only here.
 * Search joins history with memberships, so a tenant's tables always live together in one shard.
 */
export function tenantDb(env: Pick<Env, "DB">, _tenantId: string): D1Database {
  return env.DB;
}
