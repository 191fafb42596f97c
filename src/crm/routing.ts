import type { CardEvent } from "./types";
import type { IntegrationRow } from "../storage/integrations";
import { setFallbackConversation } from "../storage/integrations";
import { unknownUserIds } from "../storage/users";
import { tenantDb } from "../storage/shards";
import { roomStub } from "../objects";
import { directConversationId, newGroupId } from "../domain/conversation-ids";
import { BOT_USER_ID } from "../protocol/ids";
import { sha256Hex } from "../auth/credentials";

export interface DeliveryOutcome {
  posted: number;
  duplicates: number;
  /** Events posted to the fallback conversation because their owner is not a user of the tenant. */
  fallbacks: number;
}

/**
 * Post each card, in order, as the tenant's bot: to the integration's conversation; else to the
 * direct conversation of the bot and the card's owner; else (no owner, or an owner who is not a
 * user of the tenant) to the integration's fallback conversation, created on first need. Nothing is
 * dropped. Each post is idempotent on (integration, delivery id), so a retried delivery stores nothing new.
 */
export async function deliverCards(env: Env, integration: IntegrationRow, events: readonly CardEvent[]): Promise<DeliveryOutcome> {
  const outcome: DeliveryOutcome = { posted: 0, duplicates: 0, fallbacks: 0 };
  const tenantId = integration.tenantId;
  const actor = { tenantId, userId: BOT_USER_ID, deviceId: `integration:${integration.id}` };
  const owners = [...new Set(events.map((e) => e.card.owner).filter((o): o is string => typeof o === "string"))];
  const unknown = new Set(integration.conversationId ? [] : await unknownUserIds(tenantDb(env, tenantId), tenantId, owners));
  for (const event of events) {
    let conversationId = integration.conversationId;
    if (!conversationId && event.card.owner && !unknown.has(event.card.owner) && event.card.owner !== BOT_USER_ID) {
      conversationId = await directConversationId(tenantId, BOT_USER_ID, event.card.owner);
      const opened = await roomStub(env, tenantId, conversationId).openDirect({
        tenantId,
        conversationId,
        members: [BOT_USER_ID, event.card.owner],
        actor: BOT_USER_ID,
      });
      if (!opened.ok) conversationId = null;
    }
    if (!conversationId) {
      conversationId = await fallbackConversation(env, integration);
      outcome.fallbacks++;
    }
    const clientId = `crm:${(await sha256Hex(`${integration.id}\n${event.deliveryId}`)).slice(0, 40)}`;
    const sent = await roomStub(env, tenantId, conversationId).sendMessage(actor, { clientId, kind: "crm", body: event.card });
    if (!sent.ok) throw new Error(`posting a ${integration.kind} card to ${conversationId} failed: ${sent.code} ${sent.message}`);
    if (sent.value.status === "created") outcome.posted++;
    else outcome.duplicates++;
  }
  return outcome;
}

async function fallbackConversation(env: Env, integration: IntegrationRow): Promise<string> {
  if (integration.fallbackConversationId) return integration.fallbackConversationId;
  const id = newGroupId();
  const created = await roomStub(env, integration.tenantId, id).createGroup({
    tenantId: integration.tenantId,
    conversationId: id,
    name: `${integration.name}: unassigned`.slice(0, 120),
    owner: BOT_USER_ID,
    members: [],
  });
  if (!created.ok) throw new Error(`could not create the fallback conversation of ${integration.id}: ${created.message}`);
  await setFallbackConversation(env.DB, integration.id, id);
  integration.fallbackConversationId = id;
  return id;
}
