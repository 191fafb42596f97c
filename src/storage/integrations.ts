import type { IntegrationKind } from "../crm/types";

export interface IntegrationRow {
  id: string;
  tenantId: string;
  kind: IntegrationKind;
  name: string;
  conversationId: string | null;
  fallbackConversationId: string | null;
  secretCiphertext: string | null;
  tokenHash: string | null;
  organizationId: string | null;
  hubspotVersions: string | null;
  createdAt: number;
}

const COLUMNS = `id, tenant_id AS tenantId, kind, name, conversation_id AS conversationId,
  fallback_conversation_id AS fallbackConversationId, secret_ciphertext AS secretCiphertext, token_hash AS tokenHash,
  organization_id AS organizationId, hubspot_versions AS hubspotVersions, created_at AS createdAt`;

export async function insertIntegration(db: D1Database, row: IntegrationRow): Promise<void> {
  await db
    .prepare(
      `INSERT INTO integrations (id, tenant_id, kind, name, conversation_id, fallback_conversation_id, secret_ciphertext, token_hash,
                                 organization_id, hubspot_versions, created_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)`,
    )
    .bind(row.id, row.tenantId, row.kind, row.name, row.conversationId, row.fallbackConversationId, row.secretCiphertext, row.tokenHash, row.organizationId, row.hubspotVersions, row.createdAt)
    .run();
}

/** An integration by id alone (ingress: the id in the URL is all the sender gives). */
export async function integrationById(db: D1Database, id: string): Promise<IntegrationRow | undefined> {
  return (await db.prepare(`SELECT ${COLUMNS} FROM integrations WHERE id = ?1`).bind(id).first<IntegrationRow>()) ?? undefined;
}

export async function integrationOf(db: D1Database, tenantId: string, id: string): Promise<IntegrationRow | undefined> {
  return (await db.prepare(`SELECT ${COLUMNS} FROM integrations WHERE tenant_id = ?1 AND id = ?2`).bind(tenantId, id).first<IntegrationRow>()) ?? undefined;
}

export async function integrationsOf(db: D1Database, tenantId: string): Promise<IntegrationRow[]> {
  return (await db.prepare(`SELECT ${COLUMNS} FROM integrations WHERE tenant_id = ?1 ORDER BY created_at, id`).bind(tenantId).all<IntegrationRow>()).results;
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

export async function setFallbackConversation(db: D1Database, id: string, conversationId: string): Promise<void> {
  await db.prepare(`UPDATE integrations SET fallback_conversation_id = ?2 WHERE id = ?1 AND fallback_conversation_id IS NULL`).bind(id, conversationId).run();
}

/** Of the given delivery ids, those already received by this integration. */
export async function seenDeliveries(db: D1Database, integrationId: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { results } = await db
    .prepare(`SELECT delivery_id AS id FROM webhook_deliveries WHERE integration_id = ?1 AND delivery_id IN (SELECT value FROM json_each(?2))`)
    .bind(integrationId, JSON.stringify(ids))
    .all<{ id: string }>();
  return new Set(results.map((r) => r.id));
}

export async function rememberDeliveries(db: D1Database, integrationId: string, ids: readonly string[], now: number): Promise<void> {
  if (ids.length === 0) return;
  await db
    .prepare(
      `INSERT INTO webhook_deliveries (integration_id, delivery_id, received_at)
       SELECT ?1, value, ?3 FROM json_each(?2) WHERE true ON CONFLICT DO NOTHING`,
    )
    .bind(integrationId, JSON.stringify(ids), now)
    .run();
}

/** Forget delivery ids older than `cutoff` (they are kept at least 24 h: the senders' retry window). */
export async function forgetDeliveries(db: D1Database, cutoff: number): Promise<number> {
  return (await db.prepare(`DELETE FROM webhook_deliveries WHERE received_at < ?1`).bind(cutoff).run()).meta.changes;
}
