import { randomHex } from "../lib/random";

/** Where an attachment's bytes live in R2: under its tenant and conversation, so keys never collide across tenants. */
export function attachmentKey(tenantId: string, conversationId: string, attachmentId: string): string {
  return `${tenantId}/${conversationId}/${attachmentId}`;
}

/** Attachment ids are issued by the server: `f_` and 32 hex digits. */
export const ATTACHMENT_ID = /^f_[0-9a-f]{32}$/;

export function newAttachmentId(): string {
  return `f_${randomHex(16)}`;
}
