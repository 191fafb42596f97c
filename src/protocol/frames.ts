import { z } from "zod";
import { LIMITS } from "./limits";
import { describeIssue, utf8Length } from "./text";
import type { ErrorCode } from "./errors";
import type { JsonObject } from "./json";

export { ERROR_CODES, type ErrorCode } from "./errors";

export type { JsonObject, JsonValue } from "./json";

/** A stored message as every API and frame carries it. */
export interface Message {
  conversationId: string;
  seq: number;
  clientId: string;
  sender: string;
  kind: string;
  body: JsonObject;
  ts: number;
  /** The seq this message replies to. */
  replyTo?: number;
  editedAt?: number;
  recalled?: true;
  /** In history and replay: emoji -> user ids who reacted with it. */
  reactions?: Record<string, string[]>;
}

export const ClientId = z
  .string()
  .min(1, "must not be empty")
  .max(LIMITS.clientIdChars, `must be at most ${LIMITS.clientIdChars} characters`);

const Seq = z.number().int().min(1);
const SendFrame = z.object({
  type: z.literal("send"),
  clientId: ClientId,
  kind: z.string(),
  body: z.unknown(),
  replyTo: Seq.optional(),
});
const ReadFrame = z.object({ type: z.literal("read"), seq: z.number().int().min(0) });
const TypingFrame = z.object({ type: z.literal("typing") });
const PingFrame = z.object({ type: z.literal("ping") });
const ReactFrame = z.object({ type: z.literal("react"), seq: Seq, emoji: z.string().min(1).max(32), remove: z.boolean().optional() });
const EditFrame = z.object({ type: z.literal("edit"), seq: Seq, body: z.unknown() });
const RecallFrame = z.object({ type: z.literal("recall"), seq: Seq });

export const CLIENT_FRAME_TYPES = ["send", "read", "typing", "ping", "react", "edit", "recall"] as const;
export const ClientFrameSchema = z.discriminatedUnion("type", [SendFrame, ReadFrame, TypingFrame, PingFrame, ReactFrame, EditFrame, RecallFrame]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;

/** Frames the server sends on a conversation socket. */
export type ServerFrame =
  | { type: "ready"; conversationId: string; lastSeq: number }
  | { type: "message"; message: Message }
  | { type: "ack"; clientId: string; seq: number; ts: number }
  | { type: "read"; userId: string; seq: number }
  | { type: "typing"; userId: string }
  | { type: "pong" }
  | { type: "hidden"; seq: number }
  | { type: "error"; code: ErrorCode; message: string; clientId?: string };

/** Frames the server sends on a device channel (`/v1/ws`). */
export type ChannelFrame =
  | { type: "ready"; userId: string; deviceId: string }
  | { type: "notify"; conversationId: string; seq: number; sender: string; preview: string; kind: string; muted: boolean }
  | { type: "presence"; userId: string; status: "online" | "offline" }
  | { type: "pong" }
  | { type: "error"; code: ErrorCode; message: string };

export type FrameParse =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: ErrorCode; message: string; clientId?: string };

/** The exact text of a ping; the runtime answers it without waking the conversation. */
export const PING_TEXT = '{"type":"ping"}';
export const PONG_TEXT = '{"type":"pong"}';

/** Parse one client frame. Never throws: every failure is a value naming the field at fault. */
export function parseClientFrame(raw: string | ArrayBuffer): FrameParse {
  if (typeof raw !== "string") {
    return { ok: false, code: "invalid_request", message: "frames must be JSON text, not binary" };
  }
  // A UTF-16 unit is at most 3 UTF-8 bytes: a short frame needs no count.
  if (raw.length > LIMITS.frameBytes || (raw.length * 3 > LIMITS.frameBytes && utf8Length(raw) > LIMITS.frameBytes)) {
    const clientId = clientIdOfOversize(raw);
    return { ok: false, code: "too_large", message: `frame: must be at most ${LIMITS.frameBytes} bytes`, ...(clientId ? { clientId } : {}) };
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, code: "invalid_request", message: "frame: malformed JSON" };
  }
  const clientId = clientIdOf(data);
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { ok: false, code: "invalid_request", message: "frame: must be a JSON object" };
  }
  const type = "type" in data ? data.type : undefined;
  if (!CLIENT_FRAME_TYPES.some((t) => t === type)) {
    return {
      ok: false,
      code: "invalid_request",
      message: `type: must be one of ${CLIENT_FRAME_TYPES.join(", ")}`,
      ...(clientId ? { clientId } : {}),
    };
  }
  const send = type === "send" ? sendFrameOf(data) : undefined;
  if (send) return { ok: true, frame: send };
  const parsed = ClientFrameSchema.safeParse(data);
  if (!parsed.success) {
    return { ok: false, code: "invalid_request", message: describeIssue(parsed.error), ...(clientId ? { clientId } : {}) };
  }
  return { ok: true, frame: parsed.data };
}

/**
 * The send frame, checked by hand: the schema's answer for a well-formed frame (unknown keys dropped),
 * or undefined to let the schema say what is wrong. Every message passes here; the schema's walk was a
 * measurable share of a busy conversation's time.
 */
function sendFrameOf(data: object): ClientFrame | undefined {
  const clientId = clientIdOf(data);
  const kind = "kind" in data ? data.kind : undefined;
  const replyTo = "replyTo" in data ? data.replyTo : undefined;
  if (clientId === undefined || typeof kind !== "string" || !("body" in data)) return undefined;
  if (replyTo !== undefined && !(typeof replyTo === "number" && Number.isSafeInteger(replyTo) && replyTo >= 1)) return undefined;
  return replyTo === undefined ? { type: "send", clientId, kind, body: data.body } : { type: "send", clientId, kind, body: data.body, replyTo };
}

function clientIdOf(data: unknown): string | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const id = "clientId" in data ? data.clientId : undefined;
  return typeof id === "string" && id.length > 0 && id.length <= LIMITS.clientIdChars ? id : undefined;
}

/**
 * The clientId of a frame too large to parse, found by a bounded scan of its head and tail (where a
 * serializer puts it), so the sender still learns which send failed.
 */
function clientIdOfOversize(raw: string): string | undefined {
  const pattern = /"clientId"\s*:\s*"([^"\\]{1,128})"/;
  const match = pattern.exec(raw.slice(0, 2048)) ?? pattern.exec(raw.slice(-2048));
  return match?.[1];
}
