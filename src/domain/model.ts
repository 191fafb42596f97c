import type { JsonObject, Message, ServerFrame } from "../protocol/frames";
import type { ConversationType, Role } from "./membership";

/**
 * The shapes a conversation hands out: what its RPC methods return and what the store keeps. Plain
 * JSON data, so structured clone carries them across RPC unchanged.
 */

/** The conversation as one member sees it. */
export interface ConversationView {
  id: string;
  type: ConversationType;
  name: string | null;
  members: string[];
  roles: Record<string, Role>;
  createdAt: number;
  lastSeq: number;
  readSeq: number;
  unread: number;
  muted: boolean;
  lastMessage: (Message & { preview: string }) | null;
}

/** A send as it arrives (over a socket or HTTP), before its body is checked against its kind. */
export interface SendInput {
  clientId: string;
  kind: unknown;
  body: unknown;
  replyTo?: number | undefined;
}

/** A fresh message, or the one a retried (sender, clientId) stored before. */
export type SendResult = { status: "created"; message: Message } | { status: "duplicate"; message: Message };

/** A page of the log: after < seq < before, the first `limit` after `after`, or the last `limit` before `before`. */
export interface HistoryRange {
  after?: number | undefined;
  before?: number | undefined;
  limit: number;
}

/** An upload to this conversation (the bytes are in R2 under its id). */
export interface AttachmentRecord {
  id: string;
  uploader: string;
  name: string;
  size: number;
  contentType: string;
  width?: number;
  height?: number;
  createdAt: number;
  /** The seq of the first message that sent it; null or absent while it was never sent. */
  sentSeq?: number | null;
}

/** What the Worker registers after storing an upload's bytes (uploader and sending come from the conversation). */
export type AttachmentUpload = Omit<AttachmentRecord, "uploader" | "sentSeq">;

/** An approver's answer to an approval request. */
export interface DecisionInput {
  clientId: string;
  decision: "approve" | "reject";
  comment?: string | undefined;
}

/** The bodies a message had before its edits, oldest first. */
export interface EditHistory {
  seq: number;
  edits: { version: number; body: JsonObject; replacedAt: number }[];
}

/** "Read by N of M": the other members whose read cursor has reached a message. */
export interface Receipts {
  seq: number;
  readBy: string[];
  count: number;
  of: number;
}

/** How the conversation reaches its live sockets; the Durable Object implements it. */
export interface Fanout {
  /** Send one frame to every socket, except those for which `skip` says so. */
  broadcast(frame: ServerFrame, skip?: (userId: string, socketKey: unknown) => boolean): void;
  /** Close every socket of a user after telling them why. */
  disconnectUser(userId: string, code: number, message: string): void;
  /** Send one frame to every socket of one user. */
  toUser(userId: string, frame: ServerFrame): void;
}
