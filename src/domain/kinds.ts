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

export type SystemEvent = (typeof SYSTEM_EVENTS)[number];

/** The body of a `system` message: an event about members or about an earlier message (`target`). */
export type SystemBody = {
  event: SystemEvent;
  actor: string;
  userIds: string[];
  role?: string;
  /** The seq of the message a reaction, edit, recall or card action applies to. */
  target?: number;
  emoji?: string;
  /** message_edited: the new body (removed, with `redacted`, when the message is recalled). */
  body?: EditableBody;
  editedAt?: number;
  action?: string;
  redacted?: true;
};

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

type BodyOf<K extends SendableKind> = z.infer<(typeof BODY_SCHEMAS)[K]>;

/** Kinds whose body an author may edit. */
export const EDITABLE_KINDS = ["text", "log"] as const satisfies readonly SendableKind[];
export type EditableKind = (typeof EDITABLE_KINDS)[number];
export type EditableBody = BodyOf<EditableKind>;

export type ApprovalState = "pending" | "approved" | "rejected";
export type ApprovalDecision = {
  by: string;
  decision: "approved" | "rejected";
  comment?: string;
  at: number;
};
/** An approval request as stored: what was sent, plus its state and the decisions so far. */
export type ApprovalRequestBody = BodyOf<"approval"> & { state: ApprovalState; decisions: ApprovalDecision[] };
/** An approver's decision: a message of its own that references the request. */
export type ApprovalDecisionBody = {
  request: number;
  decision: "approved" | "rejected";
  state: ApprovalState;
  comment?: string;
};

/** A body checked against the schema of its kind, as a client sent it. */
export type SentContent = { [K in SendableKind]: { kind: K; body: BodyOf<K> } }[SendableKind];

/**
 * What the log stores, by kind: a sent body as completed by the conversation (upload facts, an
 * approval's state, a card's first card), or an event the conversation writes itself.
 */
export type MessageContent =
  | { kind: "text"; body: BodyOf<"text"> }
  | { kind: "image" | "file"; body: BodyOf<"image"> }
  | { kind: "log"; body: BodyOf<"log"> }
  | { kind: "approval"; body: ApprovalRequestBody | ApprovalDecisionBody }
  | { kind: "crm"; body: BodyOf<"crm"> }
  | { kind: "system"; body: SystemBody };

export type BodyCheck = ({ ok: true } & SentContent) | { ok: false; message: string };

/** Validate a message body against its kind. Never throws. */
export function checkMessageBody(kind: unknown, body: unknown): BodyCheck {
  const sendable = SENDABLE_KINDS.find((k) => k === kind);
  if (sendable === undefined) return { ok: false, message: `kind: must be one of ${SENDABLE_KINDS.join(", ")}` };
  const content = parseBody(sendable, body);
  if (!content.ok) return content;
  if (utf8Length(JSON.stringify(content.body)) > LIMITS.messageBodyBytes) {
    return { ok: false, message: `body: must be at most ${LIMITS.messageBodyBytes} bytes of JSON` };
  }
  return content;
}

function parseBody(kind: SendableKind, body: unknown): BodyCheck {
  const invalid = (error: z.ZodError): BodyCheck => ({ ok: false, message: describeIssue(error, "body") });
  // One case per kind, so each parse result is tied to its own kind in the union.
  switch (kind) {
    case "text": {
      const r = TextBody.safeParse(body);
      return r.success ? { ok: true, kind, body: r.data } : invalid(r.error);
    }
    case "image":
    case "file": {
      const r = AttachmentBody.safeParse(body);
      return r.success ? { ok: true, kind, body: r.data } : invalid(r.error);
    }
    case "log": {
      const r = LogBody.safeParse(body);
      return r.success ? { ok: true, kind, body: r.data } : invalid(r.error);
    }
    case "approval": {
      const r = ApprovalBody.safeParse(body);
      return r.success ? { ok: true, kind, body: r.data } : invalid(r.error);
    }
    case "crm": {
      const r = CrmCardBody.safeParse(body);
      return r.success ? { ok: true, kind, body: r.data } : invalid(r.error);
    }
  }
}

/** The id of the upload a stored body refers to (image and file always, approval optionally), if any. */
export function attachmentIdOf(kind: string, body: JsonObject): string | undefined {
  if (kind !== "image" && kind !== "file" && kind !== "approval") return undefined;
  const ref = body.attachment;
  if (typeof ref !== "object" || ref === null || Array.isArray(ref)) return undefined;
  return typeof ref.id === "string" && ref.id !== "" ? ref.id : undefined;
}

/** A short plain-text preview of a message, for conversation lists and notifications. */
export function previewOf(kind: string, body: JsonObject): string {
  const clip = (s: string) => (s.length > 140 ? `${s.slice(0, 139)}…` : s);
  const text = (value: unknown, fallback = "") => (value === undefined || value === null ? fallback : String(value));
  switch (kind) {
    case "text":
      return clip(text(body.text));
    case "image":
    case "file": {
      const attachment = body.attachment;
      const name = typeof attachment === "object" && attachment !== null && !Array.isArray(attachment) ? attachment.name : undefined;
      return clip(`[${kind}] ${text(name)}`);
    }
    case "log":
      return clip(`[log] ${text(body.date)}`);
    case "approval":
      return clip(`[approval] ${text(body.title)}`);
    case "crm":
      return clip(`[${text(body.objectType, "crm")}] ${text(body.title)}`);
    case "system":
      return clip(`[${text(body.event, "system")}]`);
    default:
      return "";
  }
}
