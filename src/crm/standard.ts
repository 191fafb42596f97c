/**
 * `standard`: our generic CRM ingress, signed per Standard Webhooks v1.0.0 (standardwebhooks.com):
 * `webhook-id`, `webhook-timestamp` (seconds), `webhook-signature` (`v1,<base64 HMAC-SHA256>` entries over
 * `${id}.${timestamp}.${body}`, keyed by the base64 part of the `whsec_` secret).
 */

import { z } from "zod";
import { describeIssue } from "../domain/kinds";
import { base64Decode, base64Encode, concatBytes, utf8, utf8Decode } from "../lib/encoding";
import { constantTimeEqual, hmacSha256 } from "../lib/hash";
import { CARD_LIMITS, cardProblem, clip, clipRequired, definedOnly, httpUrl } from "./cards";
import { JSON_REPLIES } from "./replies";
import type { CardEvent, CrmAdapter, CrmCard, IngressRequest, ParseResult, VerifyContext, VerifyResult } from "./types";

/** Spec "Verification": timestamps more than five minutes old or ahead are refused. */
export const STANDARD_TOLERANCE_SECONDS = 300;
const SECRET_PREFIX = "whsec_";

/** The event types of the `standard` body (API.md "Webhook ingress"). */
export const STANDARD_EVENT_TYPES = [
  "lead.created",
  "lead.updated",
  "opportunity.created",
  "opportunity.stage_changed",
  "customer.updated",
] as const;
export type StandardEventType = (typeof STANDARD_EVENT_TYPES)[number];

/** The HMAC key of a `whsec_…` secret (the prefix is optional, as in the reference libraries). */
export function standardSecretKey(secret: string): Uint8Array<ArrayBuffer> | undefined {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = base64Decode(encoded);
  return key && key.length > 0 ? key : undefined;
}

/** The `v1,<base64>` signature of a message: what a sender puts in `webhook-signature`. */
export async function signStandardWebhook(secret: string, id: string, timestamp: string, body: Uint8Array): Promise<string> {
  const key = standardSecretKey(secret);
  if (!key) throw new Error("invalid Standard Webhooks secret");
  return `v1,${base64Encode(await hmacSha256(key, concatBytes(utf8(`${id}.${timestamp}.`), body)))}`;
}

/** Verify a Standard Webhooks v1 delivery (headers, ±5 min timestamp, any matching `v1` entry). Never throws. */
export async function verifyStandardWebhook(request: IngressRequest, context: VerifyContext): Promise<VerifyResult> {
  try {
    const key = context.secret === undefined ? undefined : standardSecretKey(context.secret);
    if (!key) return { ok: false, reason: "the integration has no usable whsec_ secret" };
    const id = request.headers.get("webhook-id");
    const timestamp = request.headers.get("webhook-timestamp");
    const signatures = request.headers.get("webhook-signature");
    if (!id || !timestamp || !signatures) {
      return { ok: false, reason: "missing webhook-id, webhook-timestamp or webhook-signature header" };
    }
    // Integer seconds only: the reference suites refuse "hello", "161426533.0" and negative values.
    if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "webhook-timestamp is not an integer" };
    const nowSeconds = Math.floor(request.now / 1000);
    const sentSeconds = Number(timestamp);
    if (nowSeconds - sentSeconds > STANDARD_TOLERANCE_SECONDS) return { ok: false, reason: "webhook-timestamp is too old" };
    if (sentSeconds - nowSeconds > STANDARD_TOLERANCE_SECONDS) return { ok: false, reason: "webhook-timestamp is too new" };

    const expected = await hmacSha256(key, concatBytes(utf8(`${id}.${timestamp}.`), request.body));
    // Several space-separated entries support key rotation; entries of other versions (v1a…) are skipped.
    let matched = false;
    for (const entry of signatures.split(" ")) {
      const comma = entry.indexOf(",");
      if (comma < 0 || entry.slice(0, comma) !== "v1") continue;
      const candidate = base64Decode(entry.slice(comma + 1));
      if (candidate && constantTimeEqual(candidate, expected)) matched = true;
    }
    return matched ? { ok: true } : { ok: false, reason: "no matching v1 signature" };
  } catch {
    return { ok: false, reason: "signature could not be verified" };
  }
}

const trimmed = (max: number) => z.string().transform((s) => clip(s, max));

const StandardPayload = z.object({
  type: z.enum(STANDARD_EVENT_TYPES, { message: `must be one of ${STANDARD_EVENT_TYPES.join(", ")}` }),
  data: z.object({
    id: z.union([
      z.string().trim().min(1, "must not be empty").max(CARD_LIMITS.objectId),
      z.number().int().nonnegative().transform(String),
    ]),
    title: z.string().trim().min(1, "must not be empty").transform((s) => clipRequired(s, CARD_LIMITS.title)),
    company: trimmed(CARD_LIMITS.party).optional(),
    contact: trimmed(CARD_LIMITS.party).optional(),
    owner: z.string().trim().optional(),
    amount: z.number().finite().optional(),
    currency: z
      .string()
      .trim()
      .transform((s) => s.toUpperCase())
      .pipe(z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code"))
      .optional(),
    stage: trimmed(CARD_LIMITS.stage).optional(),
    url: z
      .string()
      .trim()
      .refine((s) => httpUrl(s) !== undefined, "must be an absolute http(s) URL of at most 2048 characters")
      .optional(),
    changedFields: z
      .array(z.string().transform((s) => clip(s, CARD_LIMITS.field)))
      .max(CARD_LIMITS.fields)
      .transform((fields) => fields.filter((f): f is string => f !== undefined))
      .optional(),
  }),
  // ms since the epoch, or an ISO 8601 date-time.
  timestamp: z
    .union([z.number().int().nonnegative(), z.string().refine((s) => !Number.isNaN(Date.parse(s)), "is not a date")])
    .optional(),
});

const OBJECT_TYPE: Record<StandardEventType, string> = {
  "lead.created": "lead",
  "lead.updated": "lead",
  "opportunity.created": "opportunity",
  "opportunity.stage_changed": "opportunity",
  "customer.updated": "customer",
};

/**
 * Parse a verified Standard Webhooks body into one card event; deliveryId is `webhook-id` (stable across
 * the sender's retries). Never throws.
 */
export async function parseStandardWebhook(request: IngressRequest): Promise<ParseResult> {
  try {
    const deliveryId = request.headers.get("webhook-id")?.trim();
    if (!deliveryId || deliveryId.length > CARD_LIMITS.deliveryId) {
      return { ok: false, reason: "webhook-id: must be 1-256 characters" };
    }
    let json: unknown;
    try {
      json = JSON.parse(utf8Decode(request.body));
    } catch {
      return { ok: false, reason: "body: is not JSON" };
    }
    const parsed = StandardPayload.safeParse(json);
    if (!parsed.success) return { ok: false, reason: describeIssue(parsed.error, "body") };
    const { type, data, timestamp } = parsed.data;
    const occurredAt =
      timestamp === undefined ? request.now : typeof timestamp === "number" ? timestamp : Date.parse(timestamp);
    const card: CrmCard = {
      source: "standard",
      objectType: OBJECT_TYPE[type],
      objectId: data.id,
      event: type,
      title: data.title,
      ...definedOnly<CrmCard>({
        company: data.company,
        contact: data.contact,
        owner: data.owner === "" ? undefined : data.owner,
        amount: data.amount,
        currency: data.currency,
        stage: data.stage,
        url: httpUrl(data.url),
        changedFields: data.changedFields,
      }),
    };
    const problem = cardProblem(card);
    if (problem) return { ok: false, reason: problem.replace(/^card\./, "body.data.") };
    const event: CardEvent = { deliveryId, occurredAt, card };
    return { ok: true, events: [event] };
  } catch {
    return { ok: false, reason: "body: could not be parsed" };
  }
}

/** The `standard` adapter: replies are `{"ok":true}` and the API error envelope. */
export const standardAdapter: CrmAdapter = {
  kind: "standard",
  verify: verifyStandardWebhook,
  parse: parseStandardWebhook,
  ...JSON_REPLIES,
};
