import { drizzle } from "drizzle-orm/d1";
import { and, asc, desc, eq, sql } from "drizzle-orm";
import { endpointDeliveries, webhookEndpoints } from "./schema";
import { compiled, excluded, inJson, jsonRows } from "./d1";
import { parseStoredMembers, parseStoredStrings } from "../protocol/json";

/** Outbound webhook endpoints of tenants, and the log of deliveries to them. */

export const OUTBOUND_EVENT_TYPES = ["message.created", "card.action", "approval.decided"] as const;
export type OutboundEventType = (typeof OUTBOUND_EVENT_TYPES)[number];

export interface EndpointRow {
  id: string;
  tenantId: string;
  url: string;
  secretCiphertext: string;
  events: OutboundEventType[];
  conversationIds: string[] | null;
  createdAt: number;
}

type StoredRow = typeof webhookEndpoints.$inferSelect;

const fromStored = (r: StoredRow): EndpointRow => ({
  ...r,
  events: parseStoredMembers(r.events, OUTBOUND_EVENT_TYPES, "webhook_endpoints.events"),
  conversationIds: r.conversationIds ? parseStoredStrings(r.conversationIds, "webhook_endpoints.conversation_ids") : null,
});

export async function insertEndpoint(db: D1Database, e: EndpointRow): Promise<void> {
  await drizzle(db)
    .insert(webhookEndpoints)
    .values({ ...e, events: JSON.stringify(e.events), conversationIds: e.conversationIds ? JSON.stringify(e.conversationIds) : null });
}

export async function endpointsOf(db: D1Database, tenantId: string): Promise<EndpointRow[]> {
  return endpointsQuery.rows(await endpointsQuery(db, tenantId).all());
}

/** The tenant's endpoints as a statement, to ride in another batch (see `endpointsQuery.rows`). */
export function endpointsQuery(db: D1Database, tenantId: string): D1PreparedStatement {
  return tenantEndpointsStatement(db, { tenantId });
}

const tenantEndpointsStatement = compiled((orm) =>
  orm
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.tenantId, sql.placeholder("tenantId")))
    .orderBy(asc(webhookEndpoints.createdAt), asc(webhookEndpoints.id)),
);

/** The endpoints of an `endpointsQuery` result. */
endpointsQuery.rows = (result: D1Result | undefined): EndpointRow[] => (result?.results ?? []).map((r) => fromStored(storedRow(r)));

/** A webhook_endpoints row as D1 returns it for a statement sent without drizzle's mapping (snake_case columns). */
function storedRow(row: unknown): StoredRow {
  if (typeof row !== "object" || row === null) throw new Error("webhook_endpoints row is not an object");
  const columns = new Map(Object.entries(row));
  const text = (name: string): string => {
    const value = columns.get(name);
    if (typeof value !== "string") throw new Error(`webhook_endpoints.${name} is not text`);
    return value;
  };
  const createdAt = columns.get("created_at");
  if (typeof createdAt !== "number") throw new Error("webhook_endpoints.created_at is not a number");
  const conversationIds = columns.get("conversation_ids") ?? null;
  return {
    id: text("id"),
    tenantId: text("tenant_id"),
    url: text("url"),
    secretCiphertext: text("secret_ciphertext"),
    events: text("events"),
    conversationIds: conversationIds === null ? null : text("conversation_ids"),
    createdAt,
  };
}

export async function endpointById(db: D1Database, id: string): Promise<EndpointRow | undefined> {
  const r = await drizzle(db).select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).get();
  return r ? fromStored(r) : undefined;
}

export async function deleteEndpoint(db: D1Database, tenantId: string, id: string): Promise<boolean> {
  const result = await drizzle(db)
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, id)));
  return result.meta.changes > 0;
}

export interface EndpointDelivery {
  eventId: string;
  endpointId: string;
  tenantId: string;
  type: string;
  status: "delivered" | "retrying" | "failed" | "dead";
  attempts: number;
  responseStatus: number | null;
  detail: string | null;
  updatedAt: number;
}

export async function recordEndpointDeliveries(db: D1Database, records: readonly EndpointDelivery[]): Promise<void> {
  if (records.length === 0) return;
  const d = endpointDeliveries;
  await drizzle(db)
    .insert(d)
    .select(jsonRows(d, records))
    .onConflictDoUpdate({
      target: [d.endpointId, d.eventId],
      set: { status: excluded(d.status), attempts: excluded(d.attempts), responseStatus: excluded(d.responseStatus), detail: excluded(d.detail), updatedAt: excluded(d.updatedAt) },
    });
}

/** Of these event ids, those already delivered to the endpoint (redeliveries are skipped). */
export async function deliveredEvents(db: D1Database, endpointId: string, eventIds: readonly string[]): Promise<Set<string>> {
  if (eventIds.length === 0) return new Set();
  const rows = await drizzle(db)
    .select({ id: endpointDeliveries.eventId })
    .from(endpointDeliveries)
    .where(and(eq(endpointDeliveries.endpointId, endpointId), eq(endpointDeliveries.status, "delivered"), inJson(endpointDeliveries.eventId, eventIds)))
    .all();
  return new Set(rows.map((r) => r.id));
}

export async function endpointDeliveriesOf(db: D1Database, tenantId: string, endpointId: string, limit = 50): Promise<EndpointDelivery[]> {
  return drizzle(db)
    .select()
    .from(endpointDeliveries)
    .where(and(eq(endpointDeliveries.tenantId, tenantId), eq(endpointDeliveries.endpointId, endpointId)))
    .orderBy(desc(endpointDeliveries.updatedAt))
    .limit(limit)
    .all();
}
