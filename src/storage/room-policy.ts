import { lifecyclePolicy, type LifecyclePolicy } from "../domain/lifecycle";

/** The tenant's edit and recall windows (tenant settings in D1), as a conversation reads them for an edit or recall. */
export async function readLifecyclePolicy(db: D1Database, tenantId: string): Promise<LifecyclePolicy> {
  const row = await db
    .prepare(`SELECT edit_window_seconds AS e, recall_window_seconds AS r FROM tenants WHERE id = ?`)
    .bind(tenantId)
    .first<{ e: number | null; r: number | null }>();
  return lifecyclePolicy(row?.e, row?.r);
}
