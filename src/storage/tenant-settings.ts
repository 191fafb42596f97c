import { drizzle } from "drizzle-orm/d1";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { tenants } from "./schema";
import { parseStoredStrings } from "../protocol/json";
import { ATTACHMENT_HARD_MAX_BYTES, SUPPORTED_TYPES } from "../domain/files";

/**
 * A tenant's own settings (GET/PUT /v1/tenant/settings): what they mean, the values they may take, and
 * where they are kept (columns of the tenant's row). Every reader of a setting reads it here.
 */

export interface TenantSettings {
  /** Messages older than this many days are deleted everywhere; null keeps history forever. */
  retentionDays: number | null;
  /** How long after sending an author may edit a message (seconds). */
  editWindowSeconds: number;
  /** How long after sending an author may recall a message (seconds); group admins may at any time. */
  recallWindowSeconds: number;
  /** Largest attachment a member may upload (bytes). */
  attachmentMaxBytes: number;
  /** Accepted attachment types; null accepts every supported type. */
  attachmentTypes: string[] | null;
  /** Days the tenant's reporting events (GET /v1/events) are kept. */
  eventRetentionDays: number;
}

/** Longest retention period a tenant may set (days); null keeps history forever. */
export const RETENTION_MAX_DAYS = 36_500;
/** Longest time reporting events are kept (days). */
export const EVENT_RETENTION_MAX_DAYS = 90;
/** Longest edit or recall window (seconds): 30 days. */
export const WINDOW_MAX_SECONDS = 30 * 86_400;

/** A change of settings: the fields given are set, the others keep their value. */
export const TenantSettingsChange = z.object({
  retentionDays: z.number().int().min(1).max(RETENTION_MAX_DAYS).nullable().optional(),
  editWindowSeconds: z.number().int().min(0).max(WINDOW_MAX_SECONDS).optional(),
  recallWindowSeconds: z.number().int().min(0).max(WINDOW_MAX_SECONDS).optional(),
  attachmentMaxBytes: z.number().int().min(1).max(ATTACHMENT_HARD_MAX_BYTES).optional(),
  attachmentTypes: z.array(z.enum(SUPPORTED_TYPES)).min(1).max(SUPPORTED_TYPES.length).nullable().optional(),
  eventRetentionDays: z.number().int().min(1).max(EVENT_RETENTION_MAX_DAYS).optional(),
});
export type TenantSettingsChange = z.infer<typeof TenantSettingsChange>;

/** The settings of a tenant that never changed them: the column defaults. */
export const DEFAULT_SETTINGS: TenantSettings = {
  retentionDays: null,
  editWindowSeconds: numberDefault(tenants.editWindowSeconds),
  recallWindowSeconds: numberDefault(tenants.recallWindowSeconds),
  attachmentMaxBytes: numberDefault(tenants.attachmentMaxBytes),
  attachmentTypes: null,
  eventRetentionDays: numberDefault(tenants.eventRetentionDays),
};

function numberDefault(column: { name: string; default: unknown }): number {
  if (typeof column.default !== "number") throw new Error(`tenants.${column.name} has no number default`);
  return column.default;
}

/** A tenant's settings; undefined for an unknown tenant. */
export async function settingsOf(db: D1Database, tenantId: string): Promise<TenantSettings | undefined> {
  const row = await drizzle(db)
    .select({
      retentionDays: tenants.retentionDays,
      editWindowSeconds: tenants.editWindowSeconds,
      recallWindowSeconds: tenants.recallWindowSeconds,
      attachmentMaxBytes: tenants.attachmentMaxBytes,
      attachmentTypes: tenants.attachmentTypes,
      eventRetentionDays: tenants.eventRetentionDays,
    })
    .from(tenants)
    .where(eq(tenants.id, tenantId))
    .get();
  if (!row) return undefined;
  return { ...row, attachmentTypes: row.attachmentTypes ? parseStoredStrings(row.attachmentTypes, "tenants.attachment_types") : null };
}

/** The settings that apply to a tenant: its own, or the defaults when its row is gone. */
export async function effectiveSettings(db: D1Database, tenantId: string): Promise<TenantSettings> {
  return (await settingsOf(db, tenantId)) ?? DEFAULT_SETTINGS;
}

/** Change the given settings; the others keep their value. */
export async function updateSettings(db: D1Database, tenantId: string, change: TenantSettingsChange): Promise<void> {
  const { attachmentTypes, ...plain } = change;
  const set: Partial<typeof tenants.$inferInsert> = Object.fromEntries(Object.entries(plain).filter(([, v]) => v !== undefined));
  if (attachmentTypes !== undefined) set.attachmentTypes = attachmentTypes === null ? null : JSON.stringify(attachmentTypes);
  if (Object.keys(set).length === 0) return;
  await drizzle(db).update(tenants).set(set).where(eq(tenants.id, tenantId));
}
