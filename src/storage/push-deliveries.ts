import { drizzle } from "drizzle-orm/d1";
import { sql } from "drizzle-orm";
import { pushDeliveries } from "./schema";

export type DeliveryStatus = "delivered" | "retrying" | "gone" | "failed" | "dead";

/** Of the given job ids, those already finished (delivered, gone or failed): redeliveries of them are skipped. */
export async function finishedJobs(db: D1Database, jobIds: readonly string[]): Promise<Set<string>> {
  if (jobIds.length === 0) return new Set();
  const rows = await drizzle(db)
    .select({ jobId: pushDeliveries.jobId, status: pushDeliveries.status })
    .from(pushDeliveries)
    .where(sql`${pushDeliveries.jobId} IN (SELECT value FROM json_each(${JSON.stringify(jobIds)}))`)
    .all();
  return new Set(rows.filter((r) => r.status !== "retrying").map((r) => r.jobId));
}

export interface DeliveryRecord {
  jobId: string;
  tenantId: string;
  userId: string;
  deviceId: string;
  status: DeliveryStatus;
  attempts: number;
  detail: string | null;
  updatedAt: number;
}

/** Record the outcome of attempts, one batch for the whole queue batch. */
export async function recordDeliveries(db: D1Database, records: readonly DeliveryRecord[]): Promise<void> {
  if (records.length === 0) return;
  await db
    .prepare(
      `INSERT INTO push_deliveries (job_id, tenant_id, user_id, device_id, status, attempts, detail, updated_at)
       SELECT j.value ->> '$.jobId', j.value ->> '$.tenantId', j.value ->> '$.userId', j.value ->> '$.deviceId',
              j.value ->> '$.status', j.value ->> '$.attempts', j.value ->> '$.detail', j.value ->> '$.updatedAt'
       FROM json_each(?1) AS j WHERE true
       ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
         detail = excluded.detail, updated_at = excluded.updated_at`,
    )
    .bind(JSON.stringify(records))
    .run();
}

/** The latest deliveries to one device, newest first (for the device's owner to check their setup). */
export async function deliveriesOf(db: D1Database, tenantId: string, userId: string, deviceId: string, limit = 20): Promise<DeliveryRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT job_id AS jobId, tenant_id AS tenantId, user_id AS userId, device_id AS deviceId, status, attempts, detail, updated_at AS updatedAt
       FROM push_deliveries WHERE tenant_id = ?1 AND user_id = ?2 AND device_id = ?3 ORDER BY updated_at DESC LIMIT ?4`,
    )
    .bind(tenantId, userId, deviceId, limit)
    .all<DeliveryRecord>();
  return results;
}
