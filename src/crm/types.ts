/**
 * CRM ingress: one adapter per delivery format, behind one interface: verify -> parse -> card events.
 * The route (src/http/hooks.ts) handles size limits, replay protection, routing and posting.
 */

export const INTEGRATION_KINDS = ["standard", "hubspot", "salesforce", "slack"] as const;
export type IntegrationKind = (typeof INTEGRATION_KINDS)[number];

/** An incoming delivery, with the raw body bytes exactly as received (signatures cover them). */
export interface IngressRequest {
  method: string;
  /** The full request URL as the sender called it. */
  url: string;
  headers: Headers;
  body: Uint8Array;
  /** Receive time, ms since the epoch. */
  now: number;
}

/** The HubSpot signature versions an integration may accept. */
export const HUBSPOT_VERSIONS = ["v1", "v2", "v3"] as const;

/** What an adapter needs to verify a delivery; which fields are set depends on the kind. */
export interface VerifyContext {
  /** standard: the `whsec_…` secret. hubspot: the app's client secret. */
  secret?: string;
  /** hubspot: which signature versions are accepted (default ["v3"]). */
  hubspotVersions?: readonly (typeof HUBSPOT_VERSIONS)[number][];
  /** salesforce: the 18- or 15-character OrganizationId deliveries must carry, when pinned. */
  organizationId?: string;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** The card schema every adapter maps to (a `crm` message body; see src/domain/kinds.ts CrmCardBody). */
export interface CrmCard {
  source: IntegrationKind | string;
  objectType: string;
  objectId: string;
  event: string;
  title: string;
  company?: string;
  contact?: string;
  /** The CRM's owner as a user id of the tenant, when the event names one. */
  owner?: string;
  amount?: number;
  currency?: string;
  stage?: string;
  url?: string;
  changedFields?: string[];
  /** Free text (Slack-style messages), mrkdwn kept as text. */
  text?: string;
}

export interface CardEvent {
  /** Unique per event within the integration: the replay-protection key. */
  deliveryId: string;
  /** When the CRM says it happened (ms); events of one delivery are posted in this order. */
  occurredAt: number;
  card: CrmCard;
}

export type ParseResult = { ok: true; events: CardEvent[] } | { ok: false; reason: string };

/** 400 bad body, 401 bad credential, 404 no such hook, 409 nobody could see the event, 413 too large, 429 retry later. */
export type RejectionStatus = 400 | 401 | 404 | 409 | 413 | 429;

export interface CrmAdapter {
  readonly kind: IntegrationKind;
  /** Check the signature (or token) and the timestamp. Never throws. */
  verify(request: IngressRequest, context: VerifyContext): Promise<VerifyResult>;
  /** Parse a verified body into card events. Never rejects. */
  parse(request: IngressRequest): Promise<ParseResult>;
  /** The success reply the sender expects (e.g. Salesforce's SOAP Ack, Slack's "ok"). */
  accepted(): Response;
  /** The error reply in the sender's own format (e.g. a SOAP fault, Slack's error strings). */
  rejected(status: RejectionStatus, reason: string): Response;
}
