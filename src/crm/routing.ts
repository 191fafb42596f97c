import type { CardEvent } from "./types";
import type { DeliveryRecord, IntegrationRow } from "../storage/integrations";
import { roomStub } from "../objects";
import { directConversationId } from "../domain/conversation-ids";
import { BOT_USER_ID } from "../protocol/ids";
import { sha256Hex } from "../lib/hash";
import { resolveOwners } from "./owners";
import { ensureInbox, InboxWithoutPeople, integrationActor } from "./inbox";

/** Why posting stopped before every event was handled; the sender should retry the rest later. */
export type DeliveryStop = { status: 409 | 429; reason: string; retryAfterSeconds?: number };

export interface DeliveryResult {
  /** One record per event handled (posted somewhere, or failed for good). */
  records: DeliveryRecord[];
  /** Set when posting stopped early: the events without a record were not posted. */
  stopped?: DeliveryStop;
}

/**
 * Post each card, in order, as the tenant's bot (with the administrator's rights the tenant key gave
 * the integration): to the integration's conversation, joining it again if the bot was removed; else to
 * the direct conversation of the bot and the event's owner (a user id, or a person's CRM id); else (no
 * owner, an unknown one, or a conversation that no longer exists) to the integration's inbox. Nothing
 * is dropped. Each post is idempotent on (integration, delivery id), so a retried delivery stores nothing new.
 */
export async function deliverCards(env: Env, integration: IntegrationRow, events: readonly CardEvent[]): Promise<DeliveryResult> {
  const tenantId = integration.tenantId;
  const actor = integrationActor(integration);
  const owners = await resolveOwners(env, tenantId, integration.kind, events.flatMap((e) => (e.card.owner ? [e.card.owner] : [])));
  const records: DeliveryRecord[] = [];
  let botInConfigured: boolean | undefined;
  let inbox: string | undefined;

  for (const event of events) {
    let target: string | undefined;
    let outcome: DeliveryRecord["outcome"] = "posted";
    let detail: string | null = null;
    const owner = event.card.owner ? owners.get(event.card.owner) : undefined;
    // The card names the person; an owner no person matches stays as the CRM named it.
    const card = owner ? { ...event.card, owner } : event.card;
    if (integration.conversationId) {
      target = integration.conversationId;
      if (botInConfigured === undefined) {
        const view = await roomStub(env, tenantId, target).getConversation(actor);
        botInConfigured = view.ok && view.value.members.includes(BOT_USER_ID);
      }
      if (!botInConfigured) {
        outcome = "rejoined";
        detail = "the bot was not a member: it joined again";
        botInConfigured = true;
      }
    } else {
      if (owner) {
        target = await directConversationId(tenantId, BOT_USER_ID, owner);
        const opened = await roomStub(env, tenantId, target).openDirect({ tenantId, conversationId: target, members: [BOT_USER_ID, owner], actor: BOT_USER_ID });
        if (!opened.ok) target = undefined;
      } else {
        detail = event.card.owner ? `owner ${event.card.owner} is not a person of the tenant` : "the event names no owner";
      }
    }
    const clientId = `crm:${(await sha256Hex(`${integration.id}\n${event.deliveryId}`)).slice(0, 40)}`;
    let sent = target ? await roomStub(env, tenantId, target).sendMessage(actor, { clientId, kind: "crm", body: card }) : undefined;
    if (sent && !sent.ok && (sent.code === "not_found" || sent.code === "forbidden")) {
      detail = `${target}: ${sent.message}`;
      sent = undefined;
    }
    if (!sent) {
      try {
        inbox ??= await ensureInbox(env, integration);
      } catch (err) {
        if (err instanceof InboxWithoutPeople) return { records, stopped: { status: 409, reason: err.message } };
        throw err;
      }
      target = inbox;
      outcome = "inbox";
      sent = await roomStub(env, tenantId, target).sendMessage(actor, { clientId, kind: "crm", body: card });
    }
    if (!sent.ok) {
      if (sent.code === "rate_limited") {
        return { records, stopped: { status: 429, reason: sent.message, retryAfterSeconds: Math.max(1, Math.ceil((sent.retryAfterMs ?? 1000) / 1000)) } };
      }
      records.push({ deliveryId: event.deliveryId, outcome: "failed", conversationId: target ?? null, seq: null, detail: `${sent.code}: ${sent.message}` });
      continue;
    }
    records.push({ deliveryId: event.deliveryId, outcome, conversationId: target ?? null, seq: sent.value.message.seq, detail });
  }
  return { records };
}
