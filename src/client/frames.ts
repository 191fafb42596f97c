/**
 * Frames from the service's sockets, checked before use: the client trusts their shape only once it has
 * seen it. Hand-written (no schema library) so that the SDK loads by type stripping alone.
 */

import type { ChannelFrame, JsonObject, Message, ServerFrame } from "../protocol/frames";
import { ERROR_CODES, type ErrorCode } from "../protocol/errors.ts";

/** A known frame, a frame type newer than this client ("newer": skip it), or undefined for a malformed frame. */
export type FrameRead<F> = F | "newer" | undefined;

const SERVER_TYPES = ["ready", "message", "ack", "read", "typing", "pong", "hidden", "error"];
const CHANNEL_TYPES = ["ready", "notify", "presence", "pong", "error"];

/** A frame of a conversation socket (`/v1/conversations/:id/ws`). */
export function readServerFrame(value: unknown): FrameRead<ServerFrame> {
  if (!isObject(value) || !("type" in value) || typeof value.type !== "string") return undefined;
  if (!SERVER_TYPES.includes(value.type)) return "newer";
  return isServerFrame(value) ? value : undefined;
}

/** A frame of a device channel (`/v1/ws`). */
export function readChannelFrame(value: unknown): FrameRead<ChannelFrame> {
  if (!isObject(value) || !("type" in value) || typeof value.type !== "string") return undefined;
  if (!CHANNEL_TYPES.includes(value.type)) return "newer";
  return isChannelFrame(value) ? value : undefined;
}

function isServerFrame(f: object): f is ServerFrame {
  switch (field(f, "type")) {
    case "ready":
      return isString(field(f, "conversationId")) && isNumber(field(f, "lastSeq"));
    case "message":
      return isMessage(field(f, "message"));
    case "ack":
      return isString(field(f, "clientId")) && isNumber(field(f, "seq")) && isNumber(field(f, "ts"));
    case "read":
      return isString(field(f, "userId")) && isNumber(field(f, "seq"));
    case "typing":
      return isString(field(f, "userId"));
    case "pong":
      return true;
    case "hidden":
      return isNumber(field(f, "seq"));
    case "error":
      return isErrorCode(field(f, "code")) && isString(field(f, "message")) && optional(field(f, "clientId"), isString);
    default:
      return false;
  }
}

function isChannelFrame(f: object): f is ChannelFrame {
  switch (field(f, "type")) {
    case "ready":
      return isString(field(f, "userId")) && isString(field(f, "deviceId"));
    case "notify":
      return (
        isString(field(f, "conversationId")) &&
        isNumber(field(f, "seq")) &&
        isString(field(f, "sender")) &&
        isString(field(f, "preview")) &&
        isString(field(f, "kind")) &&
        typeof field(f, "muted") === "boolean"
      );
    case "presence": {
      const status = field(f, "status");
      return isString(field(f, "userId")) && (status === "online" || status === "offline");
    }
    case "pong":
      return true;
    case "error":
      return isErrorCode(field(f, "code")) && isString(field(f, "message"));
    default:
      return false;
  }
}

function isMessage(m: unknown): m is Message {
  if (!isObject(m)) return false;
  const reactions = field(m, "reactions");
  return (
    isString(field(m, "conversationId")) &&
    isNumber(field(m, "seq")) &&
    isString(field(m, "clientId")) &&
    isString(field(m, "sender")) &&
    isString(field(m, "kind")) &&
    isJsonObject(field(m, "body")) &&
    isNumber(field(m, "ts")) &&
    optional(field(m, "replyTo"), isNumber) &&
    optional(field(m, "editedAt"), isNumber) &&
    optional(field(m, "recalled"), (v) => v === true) &&
    (reactions === undefined || (isObject(reactions) && Object.values(reactions).every((ids) => Array.isArray(ids) && ids.every(isString))))
  );
}

function isJsonObject(value: unknown): value is JsonObject {
  return isObject(value) && isJsonValue(value, 8);
}

function isJsonValue(value: unknown, depth: number): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (depth <= 0 || typeof value !== "object") return false;
  if (Array.isArray(value)) return value.every((v) => isJsonValue(v, depth - 1));
  return Object.values(value).every((v) => v === undefined || isJsonValue(v, depth - 1));
}

function isErrorCode(value: unknown): value is ErrorCode {
  return ERROR_CODES.some((code) => code === value);
}

/** An object that is not an array (what every frame and message is). */
function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An own property of `o`; undefined when it has none. */
function field(o: object, key: string): unknown {
  return Object.hasOwn(o, key) ? Object.getOwnPropertyDescriptor(o, key)?.value : undefined;
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function optional(value: unknown, check: (v: unknown) => boolean): boolean {
  return value === undefined || check(value);
}
