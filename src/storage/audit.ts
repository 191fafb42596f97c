import { drizzle } from "drizzle-orm/d1";
import { and, desc, eq, gt, isNull, lt, type SQL } from "drizzle-orm";
import { auditLog } from "./schema";
import { isOneOf, parseStoredObject } from "../protocol/json";

/** Every administrative action the audit trail records. */
export const AUDIT_ACTIONS = [
  "tenant.created",
  "api_key.created",
  "api_key.revoked",
  "user.created",
  "user.updated",
  "user.deactivated",
  "user.reactivated",
  "token.issued",
  "tokens.revoked",
  "integration.created",
  "integration.updated",
  "integration.rotated",
  "integration.deleted",
  "endpoint.created",
  "endpoint.deleted",
  "conversation.created",
  "member.added",
  "member.removed",
  "member.role_changed",
  "message.recalled_by_admin",
  "settings.updated",
  "quota.updated",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export type ActorKind = "operator" | "tenant" | "user";

export interface AuditEntry {
  tenantId: string | null;
  ts: number;
  actorKind: ActorKind;
  actorId: string | null;
  action: AuditAction;
  target: string | null;
  /** Ids, names and settings; never a secret, token, key or message body. */
  details: Record<string, unknown> | null;
  requestId: string | null;
  country: string | null;
}

export interface AuditRecord extends AuditEntry {
  id: number;
}

export async function recordAudit(db: D1Database, entry: AuditEntry): Promise<void> {
  await drizzle(db)
    .insert(auditLog)
    .values({ ...entry, details: entry.details === null ? null : JSON.stringify(entry.details) });
}

export interface AuditQuery {
  /** A tenant's entries; null: entries of no tenant; undefined: every tenant (operator only). */
  tenantId: string | null | undefined;
  actorKind?: ActorKind | undefined;
  actorId?: string | undefined;
  action?: AuditAction | undefined;
  /** Only entries after this time (ms). */
  after?: number | undefined;
  /** Only entries older than this entry id: the cursor of the next page. */
  before?: number | undefined;
  limit: number;
}

/** Newest first, one page. */
export async function listAudit(db: D1Database, q: AuditQuery): Promise<{ entries: AuditRecord[]; nextCursor: number | null }> {
  const where: SQL[] = [];
  if (q.tenantId === null) where.push(isNull(auditLog.tenantId));
  else if (q.tenantId !== undefined) where.push(eq(auditLog.tenantId, q.tenantId));
  if (q.actorKind) where.push(eq(auditLog.actorKind, q.actorKind));
  if (q.actorId) where.push(eq(auditLog.actorId, q.actorId));
  if (q.action) where.push(eq(auditLog.action, q.action));
  if (q.after !== undefined) where.push(gt(auditLog.ts, q.after));
  if (q.before !== undefined) where.push(lt(auditLog.id, q.before));
  const rows = await drizzle(db)
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1)
    .all();
  const page = rows.slice(0, q.limit);
  const entries = page.map((r) => ({
    ...r,
    action: storedAction(r.action),
    details: r.details === null ? null : parseStoredObject(r.details, "audit_log.details"),
  }));
  return { entries, nextCursor: rows.length > q.limit ? (page.at(-1)?.id ?? null) : null };
}

function storedAction(action: string): AuditAction {
  if (!isOneOf(AUDIT_ACTIONS, action)) throw new Error(`audit_log.action ${JSON.stringify(action)} is not an audit action`);
  return action;
}
