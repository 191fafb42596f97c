/**
 * Who owns a CRM event. The owner an event names is a user id of the tenant, or the owner's id in the
 * CRM (HubSpot's `hubspot_owner_id`, Salesforce's `OwnerId`), which people carry as `crm` ids
 * (`PUT /v1/users/:id {crm: {hubspot, salesforce, …}}`).
 */

import { BOT_USER_ID } from "../protocol/ids";
import { tenantDb } from "../storage/shards";
import { unknownUserIds, usersByCrmKeys } from "../storage/users";
import { salesforceId15 } from "./salesforce";

/**
 * A CRM id in the form that is compared and kept unique: Salesforce ids by their case-sensitive
 * 15-character form (an 18-character id and its 15-character prefix are the same record; undefined for
 * anything that is not a valid Salesforce id); other systems' ids exactly as given.
 */
export function crmKeyOf(system: string, crmId: string): string | undefined {
  return system === "salesforce" ? salesforceId15(crmId) : crmId;
}

/**
 * Resolve each named owner to a user of the tenant, in this order: a user with that id; else the one
 * person whose CRM id in the integration's own system (`hubspot`, `salesforce`) is that id; else the
 * one person holding it as a CRM id in any system. Ambiguous and unknown owners are left out, and
 * so is the bot. One query for the users, one for the CRM ids.
 */
export async function resolveOwners(env: Env, tenantId: string, system: string, owners: readonly string[]): Promise<Map<string, string>> {
  const resolved = new Map<string, string>();
  const named = [...new Set(owners)].filter((o) => o !== BOT_USER_ID);
  if (named.length === 0) return resolved;
  const db = tenantDb(env, tenantId);
  const unknown = new Set(await unknownUserIds(db, tenantId, named));
  for (const owner of named) if (!unknown.has(owner)) resolved.set(owner, owner);
  const rest = named.filter((o) => unknown.has(o));
  if (rest.length === 0) return resolved;
  const keys = new Set<string>();
  for (const owner of rest) {
    keys.add(owner);
    const sf = salesforceId15(owner);
    if (sf) keys.add(sf);
  }
  const rows = await usersByCrmKeys(db, tenantId, [...keys]);
  for (const owner of rest) {
    const matches = rows.filter((r) => r.crmKey === crmKeyOf(r.system, owner) && r.userId !== BOT_USER_ID);
    const own = matches.filter((r) => r.system === system);
    const chosen = own.length > 0 ? own : matches;
    const people = new Set(chosen.map((r) => r.userId));
    const [only] = people;
    if (people.size === 1 && only !== undefined) resolved.set(owner, only);
  }
  return resolved;
}
