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

interface RawRow {
  id: string;
  tenantId: string;
  url: string;
  secretCiphertext: string;
  events: string;
  conversationIds: string | null;
  createdAt: number;
}

const COLUMNS = `id, tenant_id AS tenantId, url, secret_ciphertext AS secretCiphertext, events, conversation_ids AS conversationIds, created_at AS createdAt`;
const fromRaw = (r: RawRow): EndpointRow => ({
  ...r,
  events: JSON.parse(r.events) as OutboundEventType[],
  conversationIds: r.conversationIds ? (JSON.parse(r.conversationIds) as string[]) : null,
});

export async function insertEndpoint(db: D1Database, e: EndpointRow): Promise<void> {
  await db
    .prepare(`INSERT INTO webhook_endpoints (id, tenant_id, url, secret_ciphertext, events, conversation_ids, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`)
    .bind(e.id, e.tenantId, e.url, e.secretCiphertext, JSON.stringify(e.events), e.conversationIds ? JSON.stringify(e.conversationIds) : null, e.createdAt)
    .run();
}

export async function endpointsOf(db: D1Database, tenantId: string): Promise<EndpointRow[]> {
  return endpointsQuery.rows(await endpointsQuery(db, tenantId).all<RawRow>());
}

/** The tenant's endpoints as a statement, to ride in another batch (see `endpointsQuery.rows`). */
export function endpointsQuery(db: D1Database, tenantId: string): D1PreparedStatement {
  return db.prepare(`SELECT ${COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 ORDER BY created_at, id`).bind(tenantId);
}

/** The endpoints of an `endpointsQuery` result. */
endpointsQuery.rows = (result: D1Result | undefined): EndpointRow[] => ((result?.results ?? []) as RawRow[]).map(fromRaw);

export async function endpointById(db: D1Database, id: string): Promise<EndpointRow | undefined> {
  const r = await db.prepare(`SELECT ${COLUMNS} FROM webhook_endpoints WHERE id = ?1`).bind(id).first<RawRow>();
  return r ? fromRaw(r) : undefined;
}

export async function deleteEndpoint(db: D1Database, tenantId: string, id: string): Promise<boolean> {
  return (await db.prepare(`DELETE FROM webhook_endpoints WHERE tenant_id = ?1 AND id = ?2`).bind(tenantId, id).run()).meta.changes > 0;
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
  await db
    .prepare(
      `INSERT INTO endpoint_deliveries (event_id, endpoint_id, tenant_id, type, status, attempts, response_status, detail, updated_at)
       SELECT j.value ->> '$.eventId', j.value ->> '$.endpointId', j.value ->> '$.tenantId', j.value ->> '$.type', j.value ->> '$.status',
              j.value ->> '$.attempts', j.value ->> '$.responseStatus', j.value ->> '$.detail', j.value ->> '$.updatedAt'
       FROM json_each(?1) AS j WHERE true
       ON CONFLICT (endpoint_id, event_id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
         response_status = excluded.response_status, detail = excluded.detail, updated_at = excluded.updated_at`,
    )
    .bind(JSON.stringify(records))
    .run();
}

/** Of these event ids, those already delivered to the endpoint (redeliveries are skipped). */
export async function deliveredEvents(db: D1Database, endpointId: string, eventIds: readonly string[]): Promise<Set<string>> {
  if (eventIds.length === 0) return new Set();
  const { results } = await db
    .prepare(`SELECT event_id AS id FROM endpoint_deliveries WHERE endpoint_id = ?1 AND status = 'delivered' AND event_id IN (SELECT value FROM json_each(?2))`)
    .bind(endpointId, JSON.stringify(eventIds))
    .all<{ id: string }>();
  return new Set(results.map((r) => r.id));
}

export async function endpointDeliveriesOf(db: D1Database, tenantId: string, endpointId: string, limit = 50): Promise<EndpointDelivery[]> {
  return (
    await db
      .prepare(
        `SELECT event_id AS eventId, endpoint_id AS endpointId, tenant_id AS tenantId, type, status, attempts, response_status AS responseStatus, detail, updated_at AS updatedAt
         FROM endpoint_deliveries WHERE tenant_id = ?1 AND endpoint_id = ?2 ORDER BY updated_at DESC LIMIT ?3`,
      )
      .bind(tenantId, endpointId, limit)
      .all<EndpointDelivery>()
  ).results;
}
