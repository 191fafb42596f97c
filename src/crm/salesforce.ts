/**
 * `salesforce`: Salesforce Outbound Messages (SOAP 1.1, namespace http://soap.sforce.com/2005/09/outbound).
 * There is no signature: the unguessable integration URL is the credential (checked by the route), and
 * `verify` only pins the OrganizationId when the integration names one.
 *
 * Mapping:
 * - `sf:Lead` → objectType "lead": title Company, else Name / FirstName + LastName; company; contact
 *   (name, with Email when sent); stage = Status.
 * - `sf:Opportunity` → "opportunity": title Name; amount (Amount), currency (CurrencyIsoCode, multi-currency
 *   orgs only), stage (StageName).
 * - any other sObject → objectType = its type lowercased (e.g. "account", "state_province__c"), title Name.
 * - event `<objectType>.created` when CreatedDate equals LastModifiedDate (both must be selected in the
 *   outbound message), else `<objectType>.updated`: Outbound Messages do not say what fired them.
 * - owner: a custom field `Switchboard_Owner__c` (or `Switchboard_Owner_Id__c`) holding the tenant's user
 *   id, else OwnerId, which routing matches against people's `crm.salesforce` ids (15 and 18-character
 *   forms of an id are the same id: src/crm/owners.ts).
 * - url: `<origin of EnterpriseUrl / PartnerUrl>/<record Id>`; occurredAt: LastModifiedDate, else
 *   SystemModstamp, else CreatedDate, else the receive time.
 */

import { XMLParser, XMLValidator } from "fast-xml-parser";
import { isExternalId } from "../protocol/ids";
import { utf8Decode } from "../lib/encoding";
import { CARD_LIMITS, cardProblem, clip, clipRequired, definedOnly, httpUrl } from "./cards";
import type { CardEvent, CrmAdapter, CrmCard, IngressRequest, ParseResult, VerifyContext, VerifyResult } from "./types";

/** WSDL: `Notification` maxOccurs="100". */
export const SALESFORCE_MAX_NOTIFICATIONS = 100;

/** The acknowledgement Salesforce requires (HTTP 200, text/xml); without `<Ack>true</Ack>` it retries for 24 h. */
export const SALESFORCE_ACK = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Body>
    <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">
      <Ack>true</Ack>
    </notificationsResponse>
  </soapenv:Body>
</soapenv:Envelope>`;

const OWNER_FIELDS = ["Switchboard_Owner__c", "Switchboard_Owner_Id__c", "OwnerId"] as const;

/** One `<Notification>`: its id (the dedupe key), the sObject's type and its selected fields as text. */
export interface OutboundNotification {
  id: string;
  sObjectType: string;
  fields: Record<string, string>;
}

/** The parts of an Outbound Message the adapter uses. */
export interface OutboundMessage {
  organizationId: string;
  /** Origin of EnterpriseUrl / PartnerUrl (e.g. https://acme.my.salesforce.com), when sent. */
  baseUrl?: string;
  notifications: OutboundNotification[];
}

export type OutboundRead = { ok: true; message: OutboundMessage } | { ok: false; reason: string };

/**
 * The parser never expands entities (processEntities: false): DOCTYPE is refused before parsing, so only
 * the five predefined entities and character references can occur, and `decodeXmlText` resolves those in
 * one non-recursive pass. Tag values stay strings (parseTagValue: false), so ids are never turned into numbers.
 */
const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (tagName, jPath) => tagName === "Notification" && String(jPath).endsWith("notifications.Notification"),
});

/** Why the body must not be parsed at all (DTDs enable XXE and entity-expansion bombs), or undefined. */
export function refusedXml(text: string): string | undefined {
  if (/<!\s*(DOCTYPE|ENTITY)/i.test(text)) return "DOCTYPE and ENTITY declarations are refused";
  // Only comments and CDATA may start with "<!"; anything else is a declaration we do not accept.
  if (/<!(?!--|\[CDATA\[)/.test(text)) return "XML declarations other than comments and CDATA are refused";
  return undefined;
}

const PREDEFINED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Resolve XML's predefined entities and character references in one pass; anything else stays literal. */
export function decodeXmlText(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});/g, (match, name: string) => {
    if (name[0] !== "#") return PREDEFINED[name] ?? match;
    const code = name[1] === "x" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    // XML 1.0 §2.2 Char: references to anything else are not well-formed, so they stay literal.
    const valid =
      code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff));
    return valid ? String.fromCodePoint(code) : match;
  });
}

type XmlNode = Record<string, unknown>;
const isNode = (value: unknown): value is XmlNode => typeof value === "object" && value !== null && !Array.isArray(value);

/** An element's text: a string, or the `#text` of an element with attributes; nil/empty → undefined. */
function textOf(value: unknown): string | undefined {
  if (typeof value === "string") return clip(decodeXmlText(value), 10_000);
  if (isNode(value) && typeof value["#text"] === "string") return clip(decodeXmlText(value["#text"]), 10_000);
  return undefined;
}

function childNode(node: unknown, name: string): XmlNode | undefined {
  if (!isNode(node)) return undefined;
  const child = Object.hasOwn(node, name) ? node[name] : undefined;
  return isNode(child) ? child : undefined;
}

function originOf(url: string | undefined): string | undefined {
  const checked = httpUrl(url);
  return checked ? new URL(checked).origin : undefined;
}

/** Read and structurally check an Outbound Message (refusing DTDs, malformed XML, > 100 notifications). Never throws. */
export function readOutboundMessage(body: Uint8Array): OutboundRead {
  try {
    const text = utf8Decode(body);
    const refused = refusedXml(text);
    if (refused) return { ok: false, reason: refused };
    const valid = XMLValidator.validate(text);
    if (valid !== true) return { ok: false, reason: `malformed XML: ${valid.err.msg} (line ${valid.err.line})` };
    const notifications = childNode(childNode(childNode(parser.parse(text), "Envelope"), "Body"), "notifications");
    if (!notifications) return { ok: false, reason: "not a Salesforce Outbound Message (no soapenv:Envelope/Body/notifications)" };

    const organizationId = textOf(notifications.OrganizationId);
    if (!organizationId || !/^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/.test(organizationId)) {
      return { ok: false, reason: "OrganizationId: missing or not a Salesforce id" };
    }
    const list = notifications.Notification;
    if (!Array.isArray(list) || list.length === 0) return { ok: false, reason: "no Notification elements" };
    if (list.length > SALESFORCE_MAX_NOTIFICATIONS) {
      return { ok: false, reason: `at most ${SALESFORCE_MAX_NOTIFICATIONS} Notification elements` };
    }

    const read: OutboundNotification[] = [];
    for (const [index, item] of list.entries()) {
      const id = textOf(isNode(item) ? item.Id : undefined);
      if (!id || id.length > CARD_LIMITS.deliveryId) return { ok: false, reason: `Notification ${index + 1}: missing Id` };
      const sObject = childNode(item, "sObject");
      const type = typeof sObject?.["@_type"] === "string" ? sObject["@_type"].replace(/^.*:/, "").trim() : "";
      if (!sObject || !/^[A-Za-z][A-Za-z0-9_]{0,79}$/.test(type)) {
        return { ok: false, reason: `Notification ${index + 1}: sObject without an xsi:type` };
      }
      const fields: Record<string, string> = Object.create(null);
      for (const [name, value] of Object.entries(sObject)) {
        if (name.startsWith("@_")) continue;
        const fieldText = textOf(value);
        if (fieldText !== undefined) fields[name] = fieldText;
      }
      read.push({ id, sObjectType: type, fields });
    }
    const baseUrl = originOf(textOf(notifications.EnterpriseUrl)) ?? originOf(textOf(notifications.PartnerUrl));
    return { ok: true, message: { organizationId, ...definedOnly<OutboundMessage>({ baseUrl }), notifications: read } };
  } catch {
    return { ok: false, reason: "the Outbound Message could not be read" };
  }
}

const CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/**
 * The case-sensitive 15-character form of a Salesforce id, checking the case-insensitive 3-character
 * suffix of an 18-character id (each suffix character encodes which of 5 characters are upper case).
 */
export function salesforceId15(id: string): string | undefined {
  const trimmed = id.trim();
  if (!/^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/.test(trimmed)) return undefined;
  const base = trimmed.slice(0, 15);
  if (trimmed.length === 15) return base;
  let suffix = "";
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const ch = base.charCodeAt(chunk * 5 + i);
      if (ch >= 65 && ch <= 90) bits |= 1 << i;
    }
    suffix += CHECKSUM_ALPHABET[bits];
  }
  return suffix === trimmed.slice(15).toUpperCase() ? base : undefined;
}

/** Whether two org ids name the same org, whatever their 15/18-character forms. */
export function sameSalesforceId(a: string, b: string): boolean {
  const x = salesforceId15(a);
  return x !== undefined && x === salesforceId15(b);
}

/**
 * The credential of an Outbound Message is the URL token (checked by the route); here only the org it
 * comes from, when the integration pins one. A body that cannot be read (DOCTYPE, broken XML) is not a
 * credential problem: it passes here and `parse` refuses it with 400, before anything is stored. Never throws.
 */
export async function verifySalesforceMessage(request: IngressRequest, context: VerifyContext): Promise<VerifyResult> {
  try {
    if (!context.organizationId) return { ok: true };
    const read = readOutboundMessage(request.body);
    if (!read.ok) return { ok: true };
    return sameSalesforceId(read.message.organizationId, context.organizationId)
      ? { ok: true }
      : { ok: false, reason: "OrganizationId does not match the integration's org" };
  } catch {
    return { ok: false, reason: "the Outbound Message could not be verified" };
  }
}

const numberOf = (text: string | undefined): number | undefined => {
  if (text === undefined || !/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
};

const timeOf = (text: string | undefined): number | undefined => {
  const ms = text === undefined ? NaN : Date.parse(text);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
};

function cardOf(notification: OutboundNotification, baseUrl: string | undefined): CrmCard {
  const f = notification.fields;
  const type = notification.sObjectType;
  const objectType = clipRequired(type.toLowerCase(), CARD_LIMITS.objectType - ".created".length);
  const objectId = f.Id ?? notification.id;
  const created = f.CreatedDate !== undefined && f.CreatedDate === f.LastModifiedDate;
  const ownerField = OWNER_FIELDS.map((name) => f[name]).find((v) => v !== undefined);
  const owner = ownerField !== undefined && isExternalId(ownerField) ? ownerField : undefined;
  const common = {
    source: "salesforce",
    objectId: clipRequired(objectId, CARD_LIMITS.objectId),
    event: `${objectType}.${created ? "created" : "updated"}`,
    ...definedOnly<CrmCard>({ owner, url: baseUrl && f.Id ? httpUrl(`${baseUrl}/${encodeURIComponent(f.Id)}`) : undefined }),
  };
  const party = (value: string | undefined) => (value === undefined ? undefined : clip(value, CARD_LIMITS.party));

  if (type === "Lead") {
    const person = f.Name ?? clip([f.FirstName, f.LastName].filter(Boolean).join(" "), CARD_LIMITS.party);
    const contact = person && f.Email ? `${person} <${f.Email}>` : (person ?? f.Email);
    return {
      ...common,
      objectType: "lead",
      title: clipRequired(f.Company ?? person ?? `Lead ${objectId}`, CARD_LIMITS.title),
      ...definedOnly<CrmCard>({
        company: party(f.Company),
        contact: party(contact),
        stage: f.Status === undefined ? undefined : clip(f.Status, CARD_LIMITS.stage),
      }),
    };
  }
  if (type === "Opportunity") {
    const currency = f.CurrencyIsoCode?.toUpperCase();
    return {
      ...common,
      objectType: "opportunity",
      title: clipRequired(f.Name ?? `Opportunity ${objectId}`, CARD_LIMITS.title),
      ...definedOnly<CrmCard>({
        amount: numberOf(f.Amount),
        currency: currency && /^[A-Z]{3}$/.test(currency) ? currency : undefined,
        stage: f.StageName === undefined ? undefined : clip(f.StageName, CARD_LIMITS.stage),
      }),
    };
  }
  return { ...common, objectType, title: clipRequired(f.Name ?? `${type} ${objectId}`, CARD_LIMITS.title) };
}

/** Parse an Outbound Message into one card event per Notification (deliveryId = Notification Id). Never throws. */
export async function parseSalesforceMessage(request: IngressRequest): Promise<ParseResult> {
  try {
    const read = readOutboundMessage(request.body);
    if (!read.ok) return read;
    const events: CardEvent[] = [];
    for (const [index, notification] of read.message.notifications.entries()) {
      const card = cardOf(notification, read.message.baseUrl);
      const problem = cardProblem(card);
      if (problem) return { ok: false, reason: `Notification ${index + 1}: ${problem}` };
      const f = notification.fields;
      const occurredAt = timeOf(f.LastModifiedDate) ?? timeOf(f.SystemModstamp) ?? timeOf(f.CreatedDate) ?? request.now;
      events.push({ deliveryId: notification.id, occurredAt, card });
    }
    events.sort((a, b) => a.occurredAt - b.occurredAt);
    return { ok: true, events };
  } catch {
    return { ok: false, reason: "the Outbound Message could not be parsed" };
  }
}

const escapeXml = (text: string) =>
  text.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[ch] ?? ch);

/**
 * A SOAP 1.1 Fault (`soapenv:Client`: every rejection is about the request). The HTTP status is the one the
 * route chose (API.md: 401 for a bad credential…) rather than SOAP 1.1 §6.2's blanket 500; Salesforce treats
 * any non-200 as "not delivered" and retries either way.
 */
export function salesforceFault(status: number, reason: string): Response {
  const body = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Body>
    <soapenv:Fault>
      <faultcode>soapenv:Client</faultcode>
      <faultstring>${escapeXml(reason)}</faultstring>
    </soapenv:Fault>
  </soapenv:Body>
</soapenv:Envelope>
`;
  return new Response(body, { status, headers: { "content-type": "text/xml; charset=utf-8" } });
}

/** The `salesforce` adapter: replies are the SOAP Ack and SOAP Faults. */
export const salesforceAdapter: CrmAdapter = {
  kind: "salesforce",
  verify: verifySalesforceMessage,
  parse: parseSalesforceMessage,
  accepted: () => new Response(SALESFORCE_ACK, { status: 200, headers: { "content-type": "text/xml; charset=utf-8" } }),
  rejected: salesforceFault,
};
