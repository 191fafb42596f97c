/** D1 side of the retention policy: which tenants expire history, and deleting it in bounded steps. */

export interface RetentionPolicy {
  tenantId: string;
  retentionDays: number;
}

export async function tenantsWithRetention(db: D1Database): Promise<RetentionPolicy[]> {
  const { results } = await db
    .prepare(`SELECT id AS tenantId, retention_days AS retentionDays FROM tenants WHERE retention_days IS NOT NULL ORDER BY id`)
    .all<RetentionPolicy>();
  return results;
}

export interface TenantSettings {
  retentionDays: number | null;
  editWindowSeconds: number;
  recallWindowSeconds: number;
  attachmentMaxBytes: number;
  /** Accepted attachment types; null accepts every supported type. */
  attachmentTypes: string[] | null;
  /** Days the tenant's reporting events (GET /v1/events) are kept. */
  eventRetentionDays: number;
}

export async function getTenantSettings(db: D1Database, tenantId: string): Promise<TenantSettings | undefined> {
  const row = await db
    .prepare(
      `SELECT retention_days AS retentionDays, edit_window_seconds AS editWindowSeconds, recall_window_seconds AS recallWindowSeconds,
              attachment_max_bytes AS attachmentMaxBytes, attachment_types AS attachmentTypes,
              event_retention_days AS eventRetentionDays
       FROM tenants WHERE id = ?1`,
    )
    .bind(tenantId)
    .first<Omit<TenantSettings, "attachmentTypes"> & { attachmentTypes: string | null }>();
  if (!row) return undefined;
  return { ...row, attachmentTypes: row.attachmentTypes ? (JSON.parse(row.attachmentTypes) as string[]) : null };
}

/** Change the given settings; the others keep their value. */
export async function updateTenantSettings(db: D1Database, tenantId: string, change: Partial<TenantSettings>): Promise<void> {
  await db
    .prepare(
      `UPDATE tenants SET
         retention_days = CASE WHEN ?2 THEN ?3 ELSE retention_days END,
         edit_window_seconds = coalesce(?4, edit_window_seconds),
         recall_window_seconds = coalesce(?5, recall_window_seconds),
         attachment_max_bytes = coalesce(?6, attachment_max_bytes),
         attachment_types = CASE WHEN ?7 THEN ?8 ELSE attachment_types END,
         event_retention_days = coalesce(?9, event_retention_days)
       WHERE id = ?1`,
    )
    .bind(
      tenantId,
      "retentionDays" in change ? 1 : 0,
      change.retentionDays ?? null,
      change.editWindowSeconds ?? null,
      change.recallWindowSeconds ?? null,
      change.attachmentMaxBytes ?? null,
      "attachmentTypes" in change ? 1 : 0,
      change.attachmentTypes ? JSON.stringify(change.attachmentTypes) : null,
      change.eventRetentionDays ?? null,
    )
    .run();
}

/**
 * Delete up to `max` history rows older than `cutoff` (the search index follows through the delete
 * trigger). Returns how many were deleted; call again while it returns `max`.
 */
export async function purgeHistory(db: D1Database, tenantId: string, cutoff: number, max = 5_000): Promise<number> {
  const result = await db
    .prepare(`DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE tenant_id = ?1 AND ts < ?2 LIMIT ?3)`)
    .bind(tenantId, cutoff, max)
    .run();
  await db
    .prepare(`UPDATE conversations SET last_message = NULL WHERE tenant_id = ?1 AND activity_at < ?2 AND last_message IS NOT NULL`)
    .bind(tenantId, cutoff)
    .run();
  // "Deleted for me" markers go with the messages they hide.
  await db
    .prepare(
      `DELETE FROM hidden_messages WHERE rowid IN (
         SELECT h.rowid FROM hidden_messages h
         WHERE h.tenant_id = ?1 AND NOT EXISTS (
           SELECT 1 FROM messages m WHERE m.tenant_id = h.tenant_id AND m.conversation_id = h.conversation_id AND m.seq = h.seq)
         LIMIT ?2)`,
    )
    .bind(tenantId, max)
    .run();
  return result.meta.changes;
}

/** Conversations of a tenant with activity before `cutoff` (whose objects may hold expired messages), after `afterId`. */
export async function conversationsActiveBefore(db: D1Database, tenantId: string, cutoff: number, afterId: string, limit: number): Promise<string[]> {
  const { results } = await db
    .prepare(`SELECT id FROM conversations WHERE tenant_id = ?1 AND created_at < ?2 AND id > ?3 ORDER BY id LIMIT ?4`)
    .bind(tenantId, cutoff, afterId, limit)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}
