/**
 * An integration's inbox: the group where events of unknown owners go, so nothing is dropped and
 * nothing lands where no person can see it. Its id is a pure function of the integration, so
 * deliveries creating it at the same moment reach the same object, which creates it once.
 *
 * Its people (`inboxMembers`) are set on the integration; left out, they are the tenant's users marked
 * `crmAdmin` (at most INBOX_DEFAULT_MAX, longest-standing first), else the tenant's longest-standing
 * user, resolved when the integration is created (or, for a tenant that had no users yet, when the
 * inbox is first needed). The bot owns the inbox and is always in it.
 */

import type { IntegrationRow } from "../storage/integrations";
import { setInbox } from "../storage/integrations";
import { defaultInboxPeople } from "../storage/users";
import { tenantDb } from "../storage/shards";
import { roomStub } from "../objects";
import { BOT_USER_ID } from "../protocol/ids";
import { sha256Hex } from "../lib/hash";

/** Most people put in an inbox by the default rule. */
export const INBOX_DEFAULT_MAX = 50;

/** The inbox conversation's id: `g_` and 32 hex digits derived from the tenant and the integration. */
export async function inboxConversationId(tenantId: string, integrationId: string): Promise<string> {
  return `g_${(await sha256Hex(`inbox\n${tenantId}\n${integrationId}`)).slice(0, 32)}`;
}

/** No person could see the inbox: the tenant has no users and the integration names none. */
export class InboxWithoutPeople extends Error {
  override name = "InboxWithoutPeople";
}

/** The actor of everything an integration does: the tenant's bot, with the administrator's rights the tenant key gave it. */
export function integrationActor(integration: IntegrationRow) {
  return { tenantId: integration.tenantId, userId: BOT_USER_ID, deviceId: `integration:${integration.id}`, tenantAdmin: true as const };
}

/** The people an inbox is created with: the configured ones, else the default rule. */
export async function inboxPeople(env: Env, integration: IntegrationRow): Promise<string[]> {
  return integration.inboxMembers ?? (await defaultInboxPeople(tenantDb(env, integration.tenantId), integration.tenantId, INBOX_DEFAULT_MAX));
}

/**
 * The inbox, created on first need, and with at least one person in it: if everyone left, its
 * configured people are added back (with the usual system message). Throws InboxWithoutPeople when
 * there is nobody to show it to.
 */
export async function ensureInbox(env: Env, integration: IntegrationRow): Promise<string> {
  const tenantId = integration.tenantId;
  const id = await inboxConversationId(tenantId, integration.id);
  const room = roomStub(env, tenantId, id);
  const actor = integrationActor(integration);
  if (integration.inboxConversationId !== id) {
    const people = (await inboxPeople(env, integration)).filter((p) => p !== BOT_USER_ID);
    if (people.length === 0) throw new InboxWithoutPeople(`integration ${integration.id} has no inbox members and the tenant has no users`);
    const created = await room.createGroup({ tenantId, conversationId: id, name: `${integration.name}: inbox`.slice(0, 120), owner: BOT_USER_ID, members: people });
    // "conflict": a concurrent delivery created it a moment ago; both converge on the same object.
    if (!created.ok && created.code !== "conflict") throw new Error(`could not create the inbox of ${integration.id}: ${created.message}`);
    await setInbox(env.DB, integration.id, id, people);
    integration.inboxConversationId = id;
    integration.inboxMembers ??= people;
    if (created.ok) return id;
  }
  const view = await room.getConversation(actor);
  if (view.ok && view.value.members.every((m) => m === BOT_USER_ID)) {
    const people = (integration.inboxMembers ?? []).filter((p) => p !== BOT_USER_ID);
    if (people.length === 0) throw new InboxWithoutPeople(`the inbox of ${integration.id} has no members left and none are configured`);
    const added = await room.addMembers(actor, people);
    if (!added.ok) throw new Error(`could not restore the inbox members of ${integration.id}: ${added.message}`);
  }
  return id;
}

/**
 * Bring an existing inbox in line with changed inbox people: add the new ones, remove those no longer
 * listed (people others added by hand stay). Nothing to do before the inbox exists.
 */
export async function syncInboxMembers(env: Env, integration: IntegrationRow, previous: readonly string[], next: readonly string[]): Promise<void> {
  if (!integration.inboxConversationId) return;
  const room = roomStub(env, integration.tenantId, integration.inboxConversationId);
  const actor = integrationActor(integration);
  const added = next.filter((p) => !previous.includes(p));
  if (added.length > 0) {
    const res = await room.addMembers(actor, added);
    if (!res.ok) throw new Error(`could not add inbox members to ${integration.inboxConversationId}: ${res.message}`);
  }
  for (const gone of previous.filter((p) => !next.includes(p) && p !== BOT_USER_ID)) {
    const res = await room.removeMember(actor, gone);
    if (!res.ok && res.code !== "not_found") throw new Error(`could not remove ${gone} from ${integration.inboxConversationId}: ${res.message}`);
  }
}
