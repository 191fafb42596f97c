import { drizzle } from "drizzle-orm/d1";
import { and, desc, eq } from "drizzle-orm";
import { pushDeliveries } from "./schema";
import { excluded, inJson, jsonRows } from "./d1";

export type DeliveryStatus = "delivered" | "retrying" | "gone" | "failed" | "dead";

/** Of the given job ids, those already finished (delivered, gone or failed): redeliveries of them are skipped. */
export async function finishedJobs(db: D1Database, jobIds: readonly string[]): Promise<Set<string>> {
  if (jobIds.length === 0) return new Set();
  const rows = await drizzle(db)
    .select({ jobId: pushDeliveries.jobId, status: pushDeliveries.status })
    .from(pushDeliveries)
    .where(inJson(pushDeliveries.jobId, jobIds))
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
  const d = pushDeliveries;
  await drizzle(db)
    .insert(d)
    .select(jsonRows(d, records))
    .onConflictDoUpdate({
      target: d.jobId,
      set: { status: excluded(d.status), attempts: excluded(d.attempts), detail: excluded(d.detail), updatedAt: excluded(d.updatedAt) },
    });
}

/** The latest deliveries to one device, newest first (for the device's owner to check their setup). */
export async function deliveriesOf(db: D1Database, tenantId: string, userId: string, deviceId: string, limit = 20): Promise<DeliveryRecord[]> {
  const d = pushDeliveries;
  return drizzle(db)
    .select()
    .from(d)
    .where(and(eq(d.tenantId, tenantId), eq(d.userId, userId), eq(d.deviceId, deviceId)))
    .orderBy(desc(d.updatedAt))
    .limit(limit)
    .all();
}
