import { drizzle } from "drizzle-orm/d1";
import { eq } from "drizzle-orm";
import { apiKeys, tenants, users } from "./schema";
import { BOT_USER_ID } from "../protocol/ids";
import { apiKeyValues } from "./api-keys";

export interface Tenant {
  id: string;
  name: string;
  createdAt: number;
}

/** Create a tenant with its first api key (given as a hash) and its bot user, atomically. False if the id is taken. */
export async function createTenant(db: D1Database, tenant: Tenant, keyHash: string): Promise<boolean> {
  const orm = drizzle(db);
  const inserted = await orm.insert(tenants).values(tenant).onConflictDoNothing().returning({ id: tenants.id });
  if (inserted.length === 0) return false;
  await orm.batch([
    orm.insert(apiKeys).values(apiKeyValues(tenant.id, keyHash, tenant.createdAt, { label: "first key" })),
    orm
      .insert(users)
      .values({
        tenantId: tenant.id,
        id: BOT_USER_ID,
        name: `${tenant.name} bot`,
        createdAt: tenant.createdAt,
        updatedAt: tenant.createdAt,
      })
      .onConflictDoNothing(),
  ]);
  return true;
}

export async function getTenant(db: D1Database, id: string): Promise<Tenant | undefined> {
  return drizzle(db).select().from(tenants).where(eq(tenants.id, id)).get();
}
