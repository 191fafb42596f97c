import { lifecyclePolicy, type LifecyclePolicy } from "../domain/lifecycle";
import { effectiveSettings } from "./tenant-settings";

/** The tenant's edit and recall windows (tenant settings in D1), as a conversation reads them for an edit or recall. */
export async function readLifecyclePolicy(db: D1Database, tenantId: string): Promise<LifecyclePolicy> {
  const s = await effectiveSettings(db, tenantId);
  return lifecyclePolicy(s.editWindowSeconds, s.recallWindowSeconds);
}
