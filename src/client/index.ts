/**
 * Switchboard client SDK: one conversation over one WebSocket with resume, idempotent retries and
 * reconnection ({@link ConversationClient}), the HTTP API ({@link SwitchboardApi}) and the device channel
 * ({@link DeviceChannel}). Runs in browsers, Node 22+ and workerd. This file is the SDK's public face: it
 * only names what the modules beside it define.
 *
 * Every file in src/client must stay loadable by Node's built-in type stripping (`node scripts/chat.mjs`
 * imports this one directly): only erasable TypeScript syntax (no enums, namespaces or constructor parameter
 * properties), runtime imports spelled with their `.ts` extension, and nothing at runtime from the rest of
 * the repository but plain constants (the attachment types below); types come in with `import type`.
 */
export type { ErrorCode, JsonObject, JsonValue, Message, ServerFrame, ClientFrame, ChannelFrame } from "../protocol/frames";
export type { MessageKind, SendableKind } from "../domain/kinds";
/** The attachment types the server accepts (a tenant may allow fewer; the server says so). */
export { SUPPORTED_TYPES as ATTACHMENT_TYPES } from "../domain/files.ts";

export type { Ack, ConnectionState, SendBodies, WebSocketLike } from "./types.ts";
export type { Clock } from "./clock.ts";
export type { ClientErrorCode } from "./errors.ts";
export { SwitchboardError, UpgradeRefusedError } from "./errors.ts";

export type { ClientEvents, ClientOptions } from "./conversation-client.ts";
export { ConversationClient } from "./conversation-client.ts";

export type { ApiOptions, Conversation, Presence, Receipts, Role, SearchHit, UploadOptions, UploadedAttachment, UserProfile } from "./api.ts";
export { SwitchboardApi } from "./api.ts";

export type { DeviceChannelEvents, DeviceChannelOptions } from "./device-channel.ts";
export { DeviceChannel } from "./device-channel.ts";
