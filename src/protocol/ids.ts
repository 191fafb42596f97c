import { z } from "zod";

/** Tenant and user ids are the CRM's own: `[A-Za-z0-9_.-]{1,64}`. */
export const EXTERNAL_ID = /^[A-Za-z0-9_.-]{1,64}$/;
/** Conversation ids are issued by the server: `d_` (direct) or `g_` (group) and 32 hex digits. */
export const CONVERSATION_ID = /^[dg]_[0-9a-f]{32}$/;

export const TenantId = z.string().regex(EXTERNAL_ID, "must match [A-Za-z0-9_.-]{1,64}");
export const UserId = z.string().regex(EXTERNAL_ID, "must match [A-Za-z0-9_.-]{1,64}");
export const ConversationId = z.string().regex(CONVERSATION_ID, "is not a conversation id");

/** The tenant's own bot user: the tenant backend acts as it on conversation endpoints. */
export const BOT_USER_ID = "bot";

export function isExternalId(value: string): boolean {
  return EXTERNAL_ID.test(value);
}

export function isConversationId(value: string): boolean {
  return CONVERSATION_ID.test(value);
}

/** The Durable Object name of a conversation: tenant-scoped, so tenants can never share an object. */
export function roomName(tenantId: string, conversationId: string): string {
  return `${tenantId}:${conversationId}`;
}
