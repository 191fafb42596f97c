import type { IntegrationKind } from "../crm/types";

export interface IntegrationRow {
  id: string;
  tenantId: string;
  kind: IntegrationKind;
  name: string;
  conversationId: string | null;
  /** The inbox, once created (its id is a function of the integration: src/crm/inbox.ts). */
  inboxConversationId: string | null;
  /** Who sees events of unknown owners; null until resolved by the default rule. */
  inboxMembers: string[] | null;
  secretCiphertext: string | null;
  tokenHash: string | null;
  organizationId: string | null;
  hubspotVersions: string | null;
  createdAt: number;
}

type StoredRow = Omit<IntegrationRow, "inboxMembers"> & { inboxMembers: string | null };

const COLUMNS = `id, tenant_id AS tenantId, kind, name, conversation_id AS conversationId,
  fallback_conversation_id AS inboxConversationId, inbox_members AS inboxMembers, secret_ciphertext AS secretCiphertext,
  token_hash AS tokenHash, organization_id AS organizationId, hubspot_versions AS hubspotVersions, created_at AS createdAt`;

function fromStored(row: StoredRow | null): IntegrationRow | undefined {
  if (!row) return undefined;
  const members: unknown = row.inboxMembers === null ? null : JSON.parse(row.inboxMembers);
  return { ...row, inboxMembers: Array.isArray(members) ? members.filter((m): m is string => typeof m === "string") : null };
}

export async function insertIntegration(db: D1Database, row: IntegrationRow): Promise<void> {
  await db
    .prepare(
      `INSERT INTO integrations (id, tenant_id, kind, name, conversation_id, fallback_conversation_id, inbox_members, secret_ciphertext,
                                 token_hash, organization_id, hubspot_versions, created_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)`,
    )
    .bind(
      row.id,
      row.tenantId,
      row.kind,
      row.name,
      row.conversationId,
      row.inboxConversationId,
      row.inboxMembers === null ? null : JSON.stringify(row.inboxMembers),
      row.secretCiphertext,
      row.tokenHash,
      row.organizationId,
      row.hubspotVersions,
      row.createdAt,
    )
    .run();
}

/** An integration by id alone (ingress: the id in the URL is all the sender gives). */
export async function integrationById(db: D1Database, id: string): Promise<IntegrationRow | undefined> {
  return fromStored(await db.prepare(`SELECT ${COLUMNS} FROM integrations WHERE id = ?1`).bind(id).first<StoredRow>());
}

export async function integrationOf(db: D1Database, tenantId: string, id: string): Promise<IntegrationRow | undefined> {
  return fromStored(await db.prepare(`SELECT ${COLUMNS} FROM integrations WHERE tenant_id = ?1 AND id = ?2`).bind(tenantId, id).first<StoredRow>());
}

export async function integrationsOf(db: D1Database, tenantId: string): Promise<IntegrationRow[]> {
  const { results } = await db.prepare(`SELECT ${COLUMNS} FROM integrations WHERE tenant_id = ?1 ORDER BY created_at, id`).bind(tenantId).all<StoredRow>();
  return results.map((r) => fromStored(r) as IntegrationRow);
}

export async function deleteIntegration(db: D1Database, tenantId: string, id: string): Promise<boolean> {
  const r = await db.prepare(`DELETE FROM integrations WHERE tenant_id = ?1 AND id = ?2`).bind(tenantId, id).run();
  return r.meta.changes > 0;
}

export async function updateIntegrationSecret(db: D1Database, tenantId: string, id: string, secret: { secretCiphertext: string | null; tokenHash: string | null }): Promise<void> {
  await db
    .prepare(`UPDATE integrations SET secret_ciphertext = ?3, token_hash = ?4 WHERE tenant_id = ?1 AND id = ?2`)
    .bind(tenantId, id, secret.secretCiphertext, secret.tokenHash)
    .run();
}

/** Change an integration's name, conversation or inbox people (fields left undefined stay as they are). */
export async function updateIntegration(
  db: D1Database,
  tenantId: string,
  id: string,
  change: { name?: string | undefined; conversationId?: string | null | undefined; inboxMembers?: string[] | undefined },
): Promise<void> {
  await db
    .prepare(
      `UPDATE integrations SET name = coalesce(?3, name),
         conversation_id = CASE WHEN ?4 THEN ?5 ELSE conversation_id END,
         inbox_members = coalesce(?6, inbox_members)
       WHERE tenant_id = ?1 AND id = ?2`,
    )
    .bind(
      tenantId,
      id,
      change.name ?? null,
      change.conversationId === undefined ? 0 : 1,
      change.conversationId ?? null,
      change.inboxMembers === undefined ? null : JSON.stringify(change.inboxMembers),
    )
    .run();
}

/** Record the inbox once it exists; concurrent creators write the same id. */
export async function setInbox(db: D1Database, id: string, conversationId: string, members: readonly string[]): Promise<void> {
  await db
    .prepare(`UPDATE integrations SET fallback_conversation_id = ?2, inbox_members = coalesce(inbox_members, ?3) WHERE id = ?1`)
    .bind(id, conversationId, JSON.stringify(members))
    .run();
}

/** How long a claimed delivery that never completed (its Worker died) blocks a retry of it. */
export const DELIVERY_CLAIM_LEASE_MS = 60_000;

/**
 * Claim the given delivery ids for posting, atomically: one conditional insert, so of several identical
 * deliveries arriving at once exactly one gets each id. An id already claimed is not returned, unless its
 * claim was never completed and is older than the lease. Returns the ids this call now holds.
 */
export async function claimDeliveries(db: D1Database, integrationId: string, ids: readonly string[], now: number): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { results } = await db
    .prepare(
      `INSERT INTO webhook_deliveries (integration_id, delivery_id, received_at, state)
       SELECT ?1, value, ?3, 'claimed' FROM json_each(?2) WHERE true
       ON CONFLICT (integration_id, delivery_id) DO UPDATE SET received_at = excluded.received_at
         WHERE webhook_deliveries.state = 'claimed' AND webhook_deliveries.received_at < ?4
       RETURNING delivery_id AS id`,
    )
    .bind(integrationId, JSON.stringify(ids), now, now - DELIVERY_CLAIM_LEASE_MS)
    .all<{ id: string }>();
  return new Set(results.map((r) => r.id));
}

export type DeliveryOutcome = "posted" | "rejoined" | "inbox" | "failed";

export interface DeliveryRecord {
  deliveryId: string;
  outcome: DeliveryOutcome;
  conversationId: string | null;
  seq: number | null;
  detail: string | null;
}

/** Complete claimed deliveries with where their cards went (or why they could not be posted). */
export async function completeDeliveries(db: D1Database, integrationId: string, records: readonly DeliveryRecord[]): Promise<void> {
  if (records.length === 0) return;
  await db.batch(
    records.map((r) =>
      db
        .prepare(
          `UPDATE webhook_deliveries SET state = 'done', outcome = ?3, conversation_id = ?4, seq = ?5, detail = ?6
           WHERE integration_id = ?1 AND delivery_id = ?2`,
        )
        .bind(integrationId, r.deliveryId, r.outcome, r.conversationId, r.seq, r.detail),
    ),
  );
}

/** Give claimed deliveries back (nothing was posted for them), so the sender's retry is processed. */
export async function releaseDeliveries(db: D1Database, integrationId: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .prepare(`DELETE FROM webhook_deliveries WHERE integration_id = ?1 AND state = 'claimed' AND delivery_id IN (SELECT value FROM json_each(?2))`)
    .bind(integrationId, JSON.stringify(ids))
    .run();
}

/** The most recent entries of an integration's delivery log, newest first. */
export async function deliveriesOf(db: D1Database, integrationId: string, limit: number) {
  const { results } = await db
    .prepare(
      `SELECT delivery_id AS deliveryId, received_at AS receivedAt, state, outcome, conversation_id AS conversationId, seq, detail
       FROM webhook_deliveries WHERE integration_id = ?1 ORDER BY received_at DESC, delivery_id LIMIT ?2`,
    )
    .bind(integrationId, limit)
    .all<{ deliveryId: string; receivedAt: number; state: "claimed" | "done"; outcome: DeliveryOutcome | null; conversationId: string | null; seq: number | null; detail: string | null }>();
  return results;
}

/** Forget delivery ids older than `cutoff` (they are kept at least 24 h: the senders' retry window). */
export async function forgetDeliveries(db: D1Database, cutoff: number): Promise<number> {
  return (await db.prepare(`DELETE FROM webhook_deliveries WHERE received_at < ?1`).bind(cutoff).run()).meta.changes;
}
