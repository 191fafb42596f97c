/**
 * `hubspot`: HubSpot webhook subscriptions (CRM object events). Signature v3 by default
 * (`X-HubSpot-Signature-v3`, base64 HMAC-SHA256 of method + URI + body + timestamp); the legacy v1/v2
 * SHA-256 signatures only when the integration lists them. See docs "Validating requests".
 *
 * Mapping (HubSpot events are thin: ids and the changed property, never the record):
 * - contact → objectType "lead" (HubSpot has no separate lead in the legacy subscriptions; the product's
 *   vocabulary is lead / opportunity / customer, as in the `standard` format), company → "customer",
 *   deal → "opportunity". Generic `object.*` events map by objectTypeId 0-1 / 0-2 / 0-3.
 * - creation → `<type>.created`, propertyChange → `<type>.updated` (deal `dealstage` →
 *   `opportunity.stage_changed` with `stage`), deletion / restore / merge → `.deleted` / `.restored` /
 *   `.merged`. Other subscriptions (associationChange, privacyDeletion, tickets, products, conversations…)
 *   are skipped: they are acknowledged but post nothing.
 * - owner: a change of `hubspot_owner_id` names the new owner (HubSpot's owner id, which routing matches
 *   against people's `crm.hubspot` ids); other events name none.
 * - title "Contact 123" / "Company 123" / "Deal 123"; url https://app.hubspot.com/contacts/<portalId>/record/<objectTypeId>/<objectId>
 *   (HubSpot's record URL, which redirects to the account's data-centre host such as app-eu1).
 */

import { z } from "zod";
import { describeIssue } from "../domain/kinds";
import { isExternalId } from "../protocol/ids";
import { base64Encode, concatBytes, utf8, utf8Decode } from "../lib/encoding";
import { constantTimeEqual, hmacSha256, sha256Hex } from "../lib/hash";
import { CARD_LIMITS, cardProblem, clip, clipUnknown, definedOnly } from "./cards";
import { JSON_REPLIES } from "./replies";
import type { CardEvent, CrmAdapter, CrmCard, IngressRequest, ParseResult, VerifyContext, VerifyResult } from "./types";

/** HubSpot's clients use MAX_ALLOWED_TIMESTAMP = 300000 ms; we refuse the same skew ahead, too. */
export const HUBSPOT_TOLERANCE_MS = 300_000;
/** HubSpot sends at most 100 events per request. */
export const HUBSPOT_MAX_EVENTS = 100;

const DECODED: Record<string, string> = {
  "%3A": ":",
  "%2F": "/",
  "%3F": "?",
  "%40": "@",
  "%21": "!",
  "%24": "$",
  "%27": "'",
  "%28": "(",
  "%29": ")",
  "%2A": "*",
  "%2C": ",",
  "%3B": ";",
};

/** The URI as HubSpot's v3 signature covers it: only the documented percent-escapes are decoded. */
export function hubspotSignatureUri(url: string): string {
  return url.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (escape) => DECODED[escape.toUpperCase()] ?? escape);
}

/** base64 HMAC-SHA256 over method + decoded URI + body + timestamp (signature v3). */
export async function hubspotV3Signature(
  secret: string,
  method: string,
  url: string,
  body: Uint8Array,
  timestamp: string,
): Promise<string> {
  const source = concatBytes(utf8(method + hubspotSignatureUri(url)), body, utf8(timestamp));
  return base64Encode(await hmacSha256(secret, source));
}

/** Hex SHA-256 of secret + body (v1) or secret + method + URI + body (v2, the URI exactly as called). */
export async function hubspotLegacySignature(
  version: "v1" | "v2",
  secret: string,
  method: string,
  url: string,
  body: Uint8Array,
): Promise<string> {
  const prefix = version === "v1" ? secret : secret + method + url;
  return sha256Hex(concatBytes(utf8(prefix), body));
}

/**
 * Verify a HubSpot delivery: v3 when accepted and present (with the ±5 min timestamp window), else the
 * legacy signature named by `X-HubSpot-Signature-Version` when that version is listed. Never throws.
 */
export async function verifyHubSpotWebhook(request: IngressRequest, context: VerifyContext): Promise<VerifyResult> {
  try {
    const secret = context.secret;
    if (!secret) return { ok: false, reason: "the integration has no client secret" };
    const accepted = context.hubspotVersions ?? ["v3"];
    const v3 = request.headers.get("x-hubspot-signature-v3");
    if (accepted.includes("v3") && v3) {
      const timestamp = request.headers.get("x-hubspot-request-timestamp");
      if (!timestamp || !/^\d{1,16}$/.test(timestamp)) {
        return { ok: false, reason: "missing or invalid X-HubSpot-Request-Timestamp" };
      }
      if (Math.abs(request.now - Number(timestamp)) > HUBSPOT_TOLERANCE_MS) {
        return { ok: false, reason: "X-HubSpot-Request-Timestamp is more than five minutes off" };
      }
      const expected = await hubspotV3Signature(secret, request.method, request.url, request.body, timestamp);
      // Reported gotcha: some proxies turn the signature's "+" into a space; base64 never has spaces.
      const given = v3.trim().replace(/ /g, "+");
      return constantTimeEqual(utf8(given), utf8(expected)) ? { ok: true } : { ok: false, reason: "signature v3 does not match" };
    }
    const legacy = request.headers.get("x-hubspot-signature");
    const version = request.headers.get("x-hubspot-signature-version")?.trim().toLowerCase();
    if (legacy && (version === "v1" || version === "v2")) {
      if (!accepted.includes(version)) return { ok: false, reason: `signature ${version} is not accepted by this integration` };
      const expected = await hubspotLegacySignature(version, secret, request.method, request.url, request.body);
      return constantTimeEqual(utf8(legacy.trim().toLowerCase()), utf8(expected))
        ? { ok: true }
        : { ok: false, reason: `signature ${version} does not match` };
    }
    return { ok: false, reason: `missing HubSpot signature (accepted: ${accepted.join(", ")})` };
  } catch {
    return { ok: false, reason: "signature could not be verified" };
  }
}

interface ObjectKind {
  objectType: string;
  label: string;
  objectTypeId: string;
}

// Looked up with strings from the request body: Maps, so that `constructor.creation` finds nothing.
const OBJECT_KINDS = new Map<string, ObjectKind>([
  ["contact", { objectType: "lead", label: "Contact", objectTypeId: "0-1" }],
  ["company", { objectType: "customer", label: "Company", objectTypeId: "0-2" }],
  ["deal", { objectType: "opportunity", label: "Deal", objectTypeId: "0-3" }],
]);
const BY_TYPE_ID = new Map<string, ObjectKind>([...OBJECT_KINDS.values()].map((kind) => [kind.objectTypeId, kind]));
const ACTIONS = new Map<string, string>([
  ["creation", "created"],
  ["propertyChange", "updated"],
  ["deletion", "deleted"],
  ["restore", "restored"],
  ["merge", "merged"],
]);

/** Numeric HubSpot ids arrive as JSON numbers; digit strings are accepted too. */
const HubSpotId = z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,30}$/, "must be a numeric id")]).transform(String);

const HubSpotEvent = z.object({
  objectId: HubSpotId,
  eventId: HubSpotId,
  subscriptionId: HubSpotId,
  portalId: HubSpotId.optional(),
  occurredAt: z.number().int().nonnegative(),
  objectTypeId: z.string().optional(),
  propertyName: z.string().optional(),
  propertyValue: z.unknown().optional(),
});

const Envelope = z.object({
  // Older docs and samples call it eventType; accept both.
  subscriptionType: z.string().optional(),
  eventType: z.string().optional(),
});

function kindOf(subscriptionType: string, objectTypeId: unknown): { kind: ObjectKind; action: string } | undefined {
  const dot = subscriptionType.indexOf(".");
  if (dot < 0) return undefined;
  const prefix = subscriptionType.slice(0, dot);
  const action = ACTIONS.get(subscriptionType.slice(dot + 1));
  const kind =
    prefix === "object" ? (typeof objectTypeId === "string" ? BY_TYPE_ID.get(objectTypeId) : undefined) : OBJECT_KINDS.get(prefix);
  return kind && action ? { kind, action } : undefined;
}

/**
 * Parse HubSpot's JSON array (≤ 100 events) into card events sorted by `occurredAt` (HubSpot does not
 * order them). deliveryId is `eventId:subscriptionId:objectId:occurredAt`, because HubSpot documents that
 * eventId alone is not guaranteed unique. Never throws.
 */
export async function parseHubSpotWebhook(request: IngressRequest): Promise<ParseResult> {
  try {
    let json: unknown;
    try {
      json = JSON.parse(utf8Decode(request.body));
    } catch {
      return { ok: false, reason: "body: is not JSON" };
    }
    if (!Array.isArray(json)) return { ok: false, reason: "body: must be an array of events" };
    if (json.length > HUBSPOT_MAX_EVENTS) return { ok: false, reason: `body: at most ${HUBSPOT_MAX_EVENTS} events` };

    const events: CardEvent[] = [];
    for (const [index, raw] of json.entries()) {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        return { ok: false, reason: `body.${index}: must be an event object` };
      }
      const envelope = Envelope.safeParse(raw);
      if (!envelope.success) return { ok: false, reason: describeIssue(envelope.error, `body.${index}`) };
      const subscriptionType = envelope.data.subscriptionType ?? envelope.data.eventType;
      if (!subscriptionType) return { ok: false, reason: `body.${index}.subscriptionType: is required` };
      const mapped = kindOf(subscriptionType, "objectTypeId" in raw ? raw.objectTypeId : undefined);
      if (!mapped) continue;

      const parsed = HubSpotEvent.safeParse(raw);
      if (!parsed.success) return { ok: false, reason: describeIssue(parsed.error, `body.${index}`) };
      const event = parsed.data;
      const { kind } = mapped;
      const isStage = kind.objectType === "opportunity" && mapped.action === "updated" && event.propertyName === "dealstage";
      const propertyName = event.propertyName === undefined ? undefined : clip(event.propertyName, CARD_LIMITS.field);
      const ownerValue = event.propertyName === "hubspot_owner_id" && mapped.action === "updated" ? event.propertyValue : undefined;
      const owner = typeof ownerValue === "string" || typeof ownerValue === "number" ? String(ownerValue) : undefined;
      const card: CrmCard = {
        source: "hubspot",
        objectType: kind.objectType,
        objectId: event.objectId,
        event: `${kind.objectType}.${isStage ? "stage_changed" : mapped.action}`,
        title: `${kind.label} ${event.objectId}`,
        ...definedOnly<CrmCard>({
          stage: isStage ? clipUnknown(event.propertyValue, CARD_LIMITS.stage) : undefined,
          owner: owner !== undefined && isExternalId(owner) ? owner : undefined,
          changedFields: mapped.action === "updated" && propertyName ? [propertyName] : undefined,
          url:
            event.portalId !== undefined && mapped.action !== "deleted"
              ? `https://app.hubspot.com/contacts/${event.portalId}/record/${kind.objectTypeId}/${event.objectId}`
              : undefined,
        }),
      };
      const problem = cardProblem(card);
      if (problem) return { ok: false, reason: `body.${index}: ${problem}` };
      events.push({
        deliveryId: `${event.eventId}:${event.subscriptionId}:${event.objectId}:${event.occurredAt}`,
        occurredAt: event.occurredAt,
        card,
      });
    }
    // Array#sort is stable, so events of the same instant keep HubSpot's order.
    events.sort((a, b) => a.occurredAt - b.occurredAt);
    return { ok: true, events };
  } catch {
    return { ok: false, reason: "body: could not be parsed" };
  }
}

/** The `hubspot` adapter: HubSpot only looks at the status, so the replies are our JSON and envelope. */
export const hubspotAdapter: CrmAdapter = {
  kind: "hubspot",
  verify: verifyHubSpotWebhook,
  parse: parseHubSpotWebhook,
  ...JSON_REPLIES,
};
