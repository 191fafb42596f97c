import { z } from "zod";
import { LIMITS } from "../protocol/limits";
import { UserId } from "../protocol/ids";
import type { JsonObject } from "../protocol/frames";
import { describeIssue, utf8Length } from "../protocol/text";

// Validation helpers many modules take from here; they belong to the wire protocol.
export { describeIssue, utf8Length };

/**
 * The schema of every message kind, shared by the server, the client SDK and docs/protocol.md.
 * A body is validated against its kind's schema; unknown extra fields are dropped.
 */

const shortText = (max: number) => z.string().trim().min(1).max(max);

export const TextBody = z.object({
  text: z.string().min(1, "must not be empty").max(LIMITS.textChars, `must be at most ${LIMITS.textChars} characters`),
  /** User ids mentioned, or "all". Each must be a member of the conversation. */
  mentions: z.array(z.union([UserId, z.literal("all")])).max(LIMITS.mentionsPerMessage).optional(),
});

export const Attachment = z.object({
  id: shortText(128),
  name: shortText(255),
  size: z.number().int().min(0).max(2 ** 40),
  contentType: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, "must be a MIME type").max(255),
});

export const AttachmentBody = z.object({
  attachment: Attachment,
  width: z.number().int().positive().max(100_000).optional(),
  height: z.number().int().positive().max(100_000).optional(),
  caption: z.string().max(LIMITS.textChars).optional(),
});

/**
 * A link a client will render as clickable: http(s) only, so a card can never carry `javascript:`,
 * `data:` or `file:` URLs. Stored as the parser spells it.
 */
export const HttpUrl = z
  .string()
  .max(LIMITS.urlChars)
  .transform((value, ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "https:" && url.protocol !== "http:") || url.hostname === "") {
      ctx.addIssue({ code: "custom", message: "must be an http(s) URL" });
      return z.NEVER;
    }
    return url.href;
  });

const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD");

export const LogBody = z.object({
  date: IsoDate,
  done: z.array(shortText(1000)).max(50).default([]),
  planned: z.array(shortText(1000)).max(50).default([]),
  blockers: z.array(shortText(1000)).max(50).default([]),
  text: z.string().max(LIMITS.textChars).optional(),
});

export const ApprovalBody = z.object({
  title: shortText(200),
  details: z.string().max(LIMITS.textChars).optional(),
  approvers: z.array(UserId).min(1).max(20),
  amount: z.number().finite().optional(),
  currency: z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code").optional(),
  attachment: Attachment.optional(),
});

export const CrmCardBody = z.object({
  /** Free text (Slack-style messages), mrkdwn kept as text. */
  text: z.string().max(LIMITS.textChars).optional(),
  source: shortText(64),
  objectType: shortText(64),
  objectId: shortText(256),
  event: shortText(64),
  title: shortText(500),
  company: z.string().max(500).optional(),
  contact: z.string().max(500).optional(),
  owner: UserId.optional(),
  amount: z.number().finite().optional(),
  currency: z.string().regex(/^[A-Z]{3}$/).optional(),
  stage: z.string().max(200).optional(),
  url: HttpUrl.optional(),
  changedFields: z.array(z.string().max(200)).max(100).optional(),
  /** seq of the first card about the same CRM object, when this card updates it. */
  updates: z.number().int().positive().optional(),
});

/** Events the conversation writes into its own sequence, so every device applies them in order. */
export const SYSTEM_EVENTS = [
  "members_added",
  "member_removed",
  "member_left",
  "role_changed",
  "owner_changed",
  "reaction_added",
  "reaction_removed",
  "message_edited",
  "message_recalled",
  "card_action",
] as const;

export const SystemBody = z.object({
  event: z.enum(SYSTEM_EVENTS),
  actor: UserId,
  userIds: z.array(UserId),
  role: z.string().optional(),
  /** The seq of the message a reaction, edit or recall applies to. */
  target: z.number().int().positive().optional(),
  emoji: z.string().optional(),
  body: z.record(z.string(), z.unknown()).optional(),
  editedAt: z.number().optional(),
  action: z.string().optional(),
});

/** One emoji as Unicode recommends it (ZWJ sequences, flags, keycaps, skin tones), or a lone pictograph. */
const ONE_EMOJI = /^(?:\p{RGI_Emoji}|\p{Extended_Pictographic}\uFE0F?)$/v;
/** A custom reaction by name, as Slack-style tools write them: `:thumbsup:`, `:+1:`, `:party_parrot:`. */
const SHORTCODE = /^:[a-z0-9_+-]{1,30}:$/;

/** A reaction: exactly one emoji (a grapheme cluster of emoji) or a `:shortcode:`. */
export const Emoji = z
  .string()
  .min(1)
  .max(32)
  .refine((s) => ONE_EMOJI.test(s) || SHORTCODE.test(s), "must be one emoji or a :shortcode:");

/**
 * The attachment a body refers to, for the kinds that may carry one (image and file always, approval
 * optionally). The conversation checks it is a real upload of the sender, whatever the kind.
 */
export function attachmentRefOf(kind: string, body: JsonObject): JsonObject | undefined {
  if (kind !== "image" && kind !== "file" && kind !== "approval") return undefined;
  const ref = body.attachment;
  return typeof ref === "object" && ref !== null && !Array.isArray(ref) ? ref : undefined;
}

export const MESSAGE_KINDS = ["text", "image", "file", "log", "approval", "crm", "system"] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** Kinds a client may send; `system` is written by the conversation itself. */
export const SENDABLE_KINDS = ["text", "image", "file", "log", "approval", "crm"] as const;
export type SendableKind = (typeof SENDABLE_KINDS)[number];

export const BODY_SCHEMAS = {
  text: TextBody,
  image: AttachmentBody,
  file: AttachmentBody,
  log: LogBody,
  approval: ApprovalBody,
  crm: CrmCardBody,
} satisfies Record<SendableKind, z.ZodType>;

export type MessageBody = z.infer<(typeof BODY_SCHEMAS)[SendableKind]> | z.infer<typeof SystemBody>;

export type BodyCheck =
  | { ok: true; kind: SendableKind; body: JsonObject }
  | { ok: false; message: string };

/** Validate a message body against its kind. Never throws. */
export function checkMessageBody(kind: unknown, body: unknown): BodyCheck {
  if (typeof kind !== "string" || !(SENDABLE_KINDS as readonly string[]).includes(kind)) {
    return { ok: false, message: `kind: must be one of ${SENDABLE_KINDS.join(", ")}` };
  }
  const sendable = kind as SendableKind;
  const parsed = BODY_SCHEMAS[sendable].safeParse(body);
  if (!parsed.success) return { ok: false, message: describeIssue(parsed.error, "body") };
  const json = JSON.stringify(parsed.data);
  if (utf8Length(json) > LIMITS.messageBodyBytes) {
    return { ok: false, message: `body: must be at most ${LIMITS.messageBodyBytes} bytes of JSON` };
  }
  // The schemas admit only JSON values (the body came from JSON.parse), so the cast is exact.
  return { ok: true, kind: sendable, body: parsed.data as JsonObject };
}

/** A short plain-text preview of a message, for conversation lists and notifications. */
export function previewOf(kind: string, body: JsonObject): string {
  const clip = (s: string) => (s.length > 140 ? `${s.slice(0, 139)}…` : s);
  switch (kind) {
    case "text":
      return clip(String(body.text ?? ""));
    case "image":
    case "file": {
      const attachment = body.attachment as { name?: unknown } | undefined;
      return clip(`[${kind}] ${String(attachment?.name ?? "")}`);
    }
    case "log":
      return clip(`[log] ${String(body.date ?? "")}`);
    case "approval":
      return clip(`[approval] ${String(body.title ?? "")}`);
    case "crm":
      return clip(`[${String(body.objectType ?? "crm")}] ${String(body.title ?? "")}`);
    case "system":
      return clip(`[${String(body.event ?? "system")}]`);
    default:
      return "";
  }
}
