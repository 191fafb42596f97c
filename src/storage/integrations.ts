import { drizzle } from "drizzle-orm/d1";
import { and, asc, desc, eq, lt, sql } from "drizzle-orm";
import { integrations, webhookDeliveries } from "./schema";
import { excluded, inJson, jsonRows } from "./d1";
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

type StoredRow = typeof integrations.$inferSelect;

function fromStored(row: StoredRow): IntegrationRow {
  const members: unknown = row.inboxMembers === null ? null : JSON.parse(row.inboxMembers);
  return { ...row, inboxMembers: Array.isArray(members) ? members.filter((m): m is string => typeof m === "string") : null };
}

export async function insertIntegration(db: D1Database, row: IntegrationRow): Promise<void> {
  await drizzle(db)
    .insert(integrations)
    .values({ ...row, inboxMembers: row.inboxMembers === null ? null : JSON.stringify(row.inboxMembers) });
}

/** An integration by id alone (ingress: the id in the URL is all the sender gives). */
export async function integrationById(db: D1Database, id: string): Promise<IntegrationRow | undefined> {
  const row = await drizzle(db).select().from(integrations).where(eq(integrations.id, id)).get();
  return row && fromStored(row);
}

export async function integrationOf(db: D1Database, tenantId: string, id: string): Promise<IntegrationRow | undefined> {
  const row = await drizzle(db).select().from(integrations).where(ofTenant(tenantId, id)).get();
  return row && fromStored(row);
}

export async function integrationsOf(db: D1Database, tenantId: string): Promise<IntegrationRow[]> {
  const rows = await drizzle(db)
    .select()
    .from(integrations)
    .where(eq(integrations.tenantId, tenantId))
    .orderBy(asc(integrations.createdAt), asc(integrations.id))
    .all();
  return rows.map(fromStored);
}

function ofTenant(tenantId: string, id: string) {
  return and(eq(integrations.tenantId, tenantId), eq(integrations.id, id));
}

export async function deleteIntegration(db: D1Database, tenantId: string, id: string): Promise<boolean> {
  const result = await drizzle(db).delete(integrations).where(ofTenant(tenantId, id));
  return result.meta.changes > 0;
}

export async function updateIntegrationSecret(db: D1Database, tenantId: string, id: string, secret: { secretCiphertext: string | null; tokenHash: string | null }): Promise<void> {
  await drizzle(db).update(integrations).set(secret).where(ofTenant(tenantId, id));
}

/** Change an integration's name, conversation or inbox people (fields left undefined stay as they are). */
export async function updateIntegration(
  db: D1Database,
  tenantId: string,
  id: string,
  change: { name?: string | undefined; conversationId?: string | null | undefined; inboxMembers?: string[] | undefined },
): Promise<void> {
  const set: Partial<typeof integrations.$inferInsert> = {};
  if (change.name !== undefined) set.name = change.name;
  if (change.conversationId !== undefined) set.conversationId = change.conversationId;
  if (change.inboxMembers !== undefined) set.inboxMembers = JSON.stringify(change.inboxMembers);
  if (Object.keys(set).length === 0) return;
  await drizzle(db).update(integrations).set(set).where(ofTenant(tenantId, id));
}

/** Record the inbox once it exists; concurrent creators write the same id. */
export async function setInbox(db: D1Database, id: string, conversationId: string, members: readonly string[]): Promise<void> {
  await drizzle(db)
    .update(integrations)
    .set({ inboxConversationId: conversationId, inboxMembers: sql`coalesce(${integrations.inboxMembers}, ${JSON.stringify(members)})` })
    .where(eq(integrations.id, id));
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
  const d = webhookDeliveries;
  const claimed = await drizzle(db)
    .insert(d)
    .select(jsonRows(d, ids.map((deliveryId) => ({ deliveryId })), { integrationId, receivedAt: now, state: "claimed" }))
    .onConflictDoUpdate({
      target: [d.integrationId, d.deliveryId],
      set: { receivedAt: excluded(d.receivedAt) },
      setWhere: sql`${d.state} = 'claimed' AND ${d.receivedAt} < ${now - DELIVERY_CLAIM_LEASE_MS}`,
    })
    .returning({ id: d.deliveryId });
  return new Set(claimed.map((r) => r.id));
}

export type DeliveryOutcome = NonNullable<typeof webhookDeliveries.$inferSelect.outcome>;

export interface DeliveryRecord {
  deliveryId: string;
  outcome: DeliveryOutcome;
  conversationId: string | null;
  seq: number | null;
  detail: string | null;
}

/** Complete claimed deliveries with where their cards went (or why they could not be posted). */
export async function completeDeliveries(db: D1Database, integrationId: string, records: readonly DeliveryRecord[]): Promise<void> {
  const orm = drizzle(db);
  const [first, ...rest] = records.map((r) =>
    orm
      .update(webhookDeliveries)
      .set({ state: "done", outcome: r.outcome, conversationId: r.conversationId, seq: r.seq, detail: r.detail })
      .where(and(eq(webhookDeliveries.integrationId, integrationId), eq(webhookDeliveries.deliveryId, r.deliveryId))),
  );
  if (first) await orm.batch([first, ...rest]);
}

/** Give claimed deliveries back (nothing was posted for them), so the sender's retry is processed. */
export async function releaseDeliveries(db: D1Database, integrationId: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await drizzle(db)
    .delete(webhookDeliveries)
    .where(and(eq(webhookDeliveries.integrationId, integrationId), eq(webhookDeliveries.state, "claimed"), inJson(webhookDeliveries.deliveryId, ids)));
}

/** The most recent entries of an integration's delivery log, newest first. */
export async function deliveriesOf(db: D1Database, integrationId: string, limit: number) {
  const d = webhookDeliveries;
  return drizzle(db)
    .select({ deliveryId: d.deliveryId, receivedAt: d.receivedAt, state: d.state, outcome: d.outcome, conversationId: d.conversationId, seq: d.seq, detail: d.detail })
    .from(d)
    .where(eq(d.integrationId, integrationId))
    .orderBy(desc(d.receivedAt), asc(d.deliveryId))
    .limit(limit)
    .all();
}

/** Forget delivery ids older than `cutoff` (they are kept at least 24 h: the senders' retry window). */
export async function forgetDeliveries(db: D1Database, cutoff: number): Promise<number> {
  return (await drizzle(db).delete(webhookDeliveries).where(lt(webhookDeliveries.receivedAt, cutoff))).meta.changes;
}
