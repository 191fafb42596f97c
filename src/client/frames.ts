/** Frames from the service's sockets, checked before use (see ./guards.ts). */

import type { ChannelFrame, ServerFrame } from "../protocol/frames";
import { field, isErrorCode, isMessage, isNumber, isObject, isString, optional } from "./guards.ts";

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
      return isErrorCode(field(f, "code")) && isString(field(f, "message")) && optional(isString)(field(f, "clientId"));
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
