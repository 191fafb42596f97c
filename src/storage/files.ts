import { randomHex } from "../random";

/** Where an attachment's bytes live in R2: under its tenant and conversation, so keys never collide across tenants. */
export function attachmentKey(tenantId: string, conversationId: string, attachmentId: string): string {
  return `${tenantId}/${conversationId}/${attachmentId}`;
}

/** Attachment ids are issued by the server: `f_` and 32 hex digits. */
export const ATTACHMENT_ID = /^f_[0-9a-f]{32}$/;

export function newAttachmentId(): string {
  return `f_${randomHex(16)}`;
}

/** The tenant's attachment limits. */
export async function attachmentPolicy(db: D1Database, tenantId: string): Promise<{ maxBytes: number; types: string[] | null }> {
  const row = await db
    .prepare(`SELECT attachment_max_bytes AS maxBytes, attachment_types AS types FROM tenants WHERE id = ?1`)
    .bind(tenantId)
    .first<{ maxBytes: number; types: string | null }>();
  return { maxBytes: row?.maxBytes ?? 26_214_400, types: row?.types ? (JSON.parse(row.types) as string[]) : null };
}
