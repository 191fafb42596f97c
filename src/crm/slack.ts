/**
 * `slack`: a Slack-compatible incoming webhook (what Grafana, CI tools, Zapier… already speak). JSON
 * `{text, blocks?, attachments?, …}` or form `payload=<json>`; the URL token is the credential (checked by
 * the route), so `verify` accepts everything. Replies are Slack's: `200 text/plain ok`, or an error string.
 *
 * Mapping: one card {source "slack", objectType "message", event "message.posted"}, with `text` the full
 * message (mrkdwn kept as text, ≤ 8000 chars) and `title` its first line (≤ 200). The text is the blocks'
 * text when blocks carry any (Slack shows blocks and uses `text` only as the notification fallback), else
 * `text`; attachments' pretext / title / text (or fallback) / fields are appended.
 *
 * Slack's format has no delivery id, so deliveryId (and objectId) is the SHA-256 of the raw body: a retried
 * identical body is a replay. The flip side: an identical message re-sent within the replay window is
 * dropped too.
 */

import { utf8Decode } from "../lib/encoding";
import { sha256Hex } from "../lib/hash";
import { CARD_LIMITS, cardProblem, clip, clipRequired } from "./cards";
import type { CrmAdapter, CrmCard, IngressRequest, ParseResult, RejectionStatus, VerifyResult } from "./types";

/** Longest title taken from the first line of the message. */
export const SLACK_TITLE_CHARS = 200;
/** Nesting deeper than this in rich_text blocks is ignored. */
const MAX_DEPTH = 8;

/** Slack's error strings for a 400 (changelog 2016-05-17 and what senders see in practice). */
export const SLACK_400_ERRORS = [
  "invalid_payload",
  "no_text",
  "missing_text_or_fallback_or_attachments",
  "invalid_blocks",
  "invalid_attachments",
  "too_many_attachments",
  "user_not_found",
] as const;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
const str = (value: unknown): string | undefined => (typeof value === "string" && value.trim() !== "" ? value.trim() : undefined);

/** `{type, text}` text objects and plain strings. */
function textObject(value: unknown): string | undefined {
  return isObject(value) ? str(value.text) : str(value);
}

/** The text of rich_text elements: text runs, links (label or URL), user/channel mentions as Slack writes them. */
function richText(elements: unknown, depth: number): string {
  if (!Array.isArray(elements) || depth > MAX_DEPTH) return "";
  let out = "";
  for (const element of elements) {
    if (!isObject(element)) continue;
    switch (element.type) {
      case "text":
        out += typeof element.text === "string" ? element.text : "";
        break;
      case "link":
        out += str(element.text) ?? str(element.url) ?? "";
        break;
      case "user":
        out += typeof element.user_id === "string" ? `<@${element.user_id}>` : "";
        break;
      case "channel":
        out += typeof element.channel_id === "string" ? `<#${element.channel_id}>` : "";
        break;
      case "emoji":
        out += typeof element.name === "string" ? `:${element.name}:` : "";
        break;
      case "rich_text_list": {
        const items = Array.isArray(element.elements) ? element.elements : [];
        out += items.map((item) => `• ${richText(isObject(item) ? item.elements : undefined, depth + 1)}`).join("\n") + "\n";
        break;
      }
      default:
        out += richText(element.elements, depth + 1);
        if (element.type === "rich_text_section" || element.type === "rich_text_preformatted" || element.type === "rich_text_quote") {
          out += "\n";
        }
    }
  }
  return out;
}

/** Text of Block Kit blocks: section (text, fields), header, context, rich_text; other blocks carry none. */
export function blocksText(blocks: unknown): string {
  if (!Array.isArray(blocks)) return "";
  const parts: string[] = [];
  for (const block of blocks) {
    if (!isObject(block)) continue;
    if (block.type === "section" || block.type === "header") {
      const text = textObject(block.text);
      if (text) parts.push(text);
      if (Array.isArray(block.fields)) parts.push(...block.fields.map(textObject).filter((t): t is string => t !== undefined));
    } else if (block.type === "context" && Array.isArray(block.elements)) {
      const text = block.elements.map(textObject).filter((t): t is string => t !== undefined).join(" ");
      if (text) parts.push(text);
    } else if (block.type === "rich_text") {
      const text = richText(block.elements, 0).trim();
      if (text) parts.push(text);
    }
  }
  return parts.join("\n");
}

/** Text of legacy attachments: pretext, title, text (fallback when neither title nor text), "title: value" fields. */
export function attachmentsText(attachments: unknown): string {
  if (!Array.isArray(attachments)) return "";
  const parts: string[] = [];
  for (const attachment of attachments) {
    if (!isObject(attachment)) continue;
    const lines: string[] = [];
    const pretext = str(attachment.pretext);
    const title = str(attachment.title);
    const text = str(attachment.text);
    if (pretext) lines.push(pretext);
    if (title) lines.push(title);
    if (text) lines.push(text);
    if (!title && !text) {
      const fallback = str(attachment.fallback);
      if (fallback) lines.push(fallback);
    }
    if (Array.isArray(attachment.fields)) {
      for (const field of attachment.fields) {
        if (!isObject(field)) continue;
        const name = str(field.title);
        const value = typeof field.value === "number" || typeof field.value === "boolean" ? String(field.value) : str(field.value);
        if (name && value) lines.push(`${name}: ${value}`);
        else {
          const single = name ?? value;
          if (single) lines.push(single);
        }
      }
    }
    if (lines.length) parts.push(lines.join("\n"));
  }
  return parts.join("\n\n");
}

/** The JSON payload of a Slack-style body: JSON, or form-encoded `payload=<json>` (legacy and Mattermost). */
function payloadOf(request: IngressRequest): { ok: true; payload: unknown } | { ok: false; reason: string } {
  const body = utf8Decode(request.body);
  const contentType = request.headers.get("content-type")?.toLowerCase() ?? "";
  let json = body;
  // Senders sometimes omit the form Content-Type; a body starting with `payload=` is unambiguous.
  const form = contentType.startsWith("application/x-www-form-urlencoded") || body.startsWith("payload=");
  if (form) {
    const payload = new URLSearchParams(body).get("payload");
    if (payload === null) return { ok: false, reason: "invalid_payload: no payload form field" };
    json = payload;
  }
  try {
    return { ok: true, payload: JSON.parse(json) };
  } catch {
    return { ok: false, reason: "invalid_payload: not JSON" };
  }
}

/** Parse a Slack-style message into one `message.posted` card. Reasons start with Slack's error string. Never throws. */
export async function parseSlackMessage(request: IngressRequest): Promise<ParseResult> {
  try {
    const read = payloadOf(request);
    if (!read.ok) return read;
    const payload = read.payload;
    if (!isObject(payload)) return { ok: false, reason: "invalid_payload: must be a JSON object" };
    if (payload.text !== undefined && payload.text !== null && typeof payload.text !== "string") {
      return { ok: false, reason: "invalid_payload: text must be a string" };
    }
    if (payload.blocks !== undefined && !Array.isArray(payload.blocks)) {
      return { ok: false, reason: "invalid_blocks: must be an array" };
    }
    if (payload.attachments !== undefined && !Array.isArray(payload.attachments)) {
      return { ok: false, reason: "invalid_attachments: must be an array" };
    }

    const main = blocksText(payload.blocks) || (str(payload.text) ?? "");
    const full = [main, attachmentsText(payload.attachments)].filter((part) => part !== "").join("\n\n");
    const text = clip(full, CARD_LIMITS.text);
    if (!text) return { ok: false, reason: "no_text: text, blocks or attachments must carry text" };
    const firstLine = text.split("\n").find((line) => line.trim() !== "") ?? text;

    const hash = await sha256Hex(request.body);
    const card: CrmCard = {
      source: "slack",
      objectType: "message",
      objectId: hash,
      event: "message.posted",
      title: clipRequired(firstLine, SLACK_TITLE_CHARS),
      text,
    };
    const problem = cardProblem(card);
    if (problem) return { ok: false, reason: `invalid_payload: ${problem}` };
    return { ok: true, events: [{ deliveryId: `slack:${hash}`, occurredAt: request.now, card }] };
  } catch {
    return { ok: false, reason: "invalid_payload: could not be parsed" };
  }
}

const plain = (status: number, body: string) =>
  new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });

/**
 * Slack's error replies: 400 with the Slack error string the parse reason starts with (else
 * `invalid_payload`), 403 `invalid_token` for a bad credential, 404 `no_service`, 409 `channel_not_found`
 * (nobody could see the message), 413 `request_too_large`, 429 `rate_limited`.
 */
export function slackRejection(status: RejectionStatus, reason: string): Response {
  switch (status) {
    case 400: {
      const code = reason.split(":")[0]?.trim() ?? "";
      return plain(400, SLACK_400_ERRORS.some((known) => known === code) ? code : "invalid_payload");
    }
    case 401:
      return plain(403, "invalid_token");
    case 404:
      return plain(404, "no_service");
    case 409:
      return plain(409, "channel_not_found");
    case 413:
      return plain(413, "request_too_large");
    case 429:
      return plain(429, "rate_limited");
  }
}

/** The `slack` adapter. */
export const slackAdapter: CrmAdapter = {
  kind: "slack",
  // The URL token is the whole credential and the route has already matched it.
  verify: async (): Promise<VerifyResult> => ({ ok: true }),
  parse: parseSlackMessage,
  accepted: () => plain(200, "ok"),
  rejected: slackRejection,
};
