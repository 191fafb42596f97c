import { drizzle } from "drizzle-orm/d1";
import { and, asc, eq, gt, sql, type SQL } from "drizzle-orm";
import { events } from "./schema";
import { parseStoredObject } from "../protocol/json";

/** The reporting events a tenant can read back (GET /v1/events). */
export const EVENT_TYPES = ["push.attempt", "crm.delivery", "outbound.attempt", "retention.run"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface TenantEvent {
  tenantId: string;
  ts: number;
  type: EventType;
  /** Ids, counts, outcomes and reasons; never a body, token, key, secret or a far end's response. */
  data: Record<string, string | number | boolean | null>;
}

/** Insert statements for events, to add to a D1 batch the caller already sends (or to send alone). */
export function eventStatements(db: D1Database, list: readonly TenantEvent[]) {
  const orm = drizzle(db);
  return list.map((e) => orm.insert(events).values({ tenantId: e.tenantId, ts: e.ts, type: e.type, data: JSON.stringify(e.data) }));
}

export async function recordEvents(db: D1Database, list: readonly TenantEvent[]): Promise<void> {
  const [first, ...rest] = eventStatements(db, list);
  if (!first) return;
  await drizzle(db).batch([first, ...rest]);
}

/** A tenant's events after a cursor (an event id), oldest first. */
export async function listEvents(
  db: D1Database,
  tenantId: string,
  q: { after?: number | undefined; type?: EventType | undefined; limit: number },
): Promise<{ id: number; ts: number; type: string; data: Record<string, unknown> }[]> {
  const where: SQL[] = [eq(events.tenantId, tenantId)];
  if (q.after !== undefined) where.push(gt(events.id, q.after));
  if (q.type) where.push(eq(events.type, q.type));
  const rows = await drizzle(db)
    .select()
    .from(events)
    .where(and(...where))
    .orderBy(asc(events.id))
    .limit(q.limit)
    .all();
  return rows.map((r) => ({ id: r.id, ts: r.ts, type: r.type, data: parseStoredObject(r.data, "events.data") }));
}

/** Delete events older than each tenant's `event_retention_days`, a bounded number per call. */
export async function pruneEvents(db: D1Database, now: number, max = 5_000): Promise<number> {
  const result = await drizzle(db).run(sql`
    DELETE FROM ${events} WHERE ${events.id} IN (
      SELECT e.id FROM ${events} e JOIN tenants t ON t.id = e.tenant_id
      WHERE e.ts < ${now} - t.event_retention_days * 86400000
      LIMIT ${max})`);
  return result.meta.changes ?? 0;
}

