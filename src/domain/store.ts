import type { JsonObject, Message } from "../protocol/frames";
import type { MessageContent } from "./kinds";
import type { ConversationType, Member, Role } from "./membership";
import type { AttachmentRecord, EditHistory, HistoryRange, SendResult } from "./model";

/**
 * What a conversation needs from its storage, one narrow interface per aggregate. The domain owns
 * these; src/storage/room-*.ts implements them over the object's SQLite, and the unit tests over
 * memory. Every method is synchronous: a caller that does not await between a write and a broadcast
 * cannot broadcast before the write.
 */

/** The conversation's header. */
export interface Room {
  tenantId: string;
  conversationId: string;
  type: ConversationType;
  name: string | null;
  createdBy: string;
  createdAt: number;
  /** The seq of the last entry of the log (0 before the first). */
  lastSeq: number;
}

/** A member with their read cursor and mute flag. */
export interface MemberState extends Member {
  readSeq: number;
  /** How many countable messages (all but `system` events) the member has read. */
  readOrdinal: number;
  muted: boolean;
}

export interface NewRoom {
  tenantId: string;
  conversationId: string;
  type: ConversationType;
  name: string | null;
  createdBy: string;
  members: { userId: string; role: Role }[];
  now: number;
}

export interface NewMessage {
  sender: string;
  clientId: string;
  content: MessageContent;
  now: number;
  replyTo?: number | undefined;
}

export interface RoomHeaderStore {
  /** The header, or null before the conversation was created. */
  get(): Room | null;
  /** Create the conversation with its first members. */
  create(init: NewRoom): void;
}

export interface MemberStore {
  /** Active members by user id. */
  active(): ReadonlyMap<string, MemberState>;
  member(userId: string): MemberState | undefined;
  /** Add (or re-add) members with role "member"; returns the ids that were not already active. */
  add(userIds: readonly string[], now: number): string[];
  remove(userId: string): void;
  setRole(userId: string, role: Role): void;
  setMuted(userId: string, muted: boolean): void;
}

/** What each reader has read, and what they deleted for themselves. */
export interface ReaderStore {
  /** Move a read cursor forward (never past the log); returns the new cursor when it moved. */
  markRead(userId: string, seq: number): number | undefined;
  /** Countable messages after the member's read cursor. */
  unreadOf(member: MemberState): number;
  /** Hide a message from one reader; false when it was hidden already. */
  hide(userId: string, seq: number): boolean;
  hiddenBetween(userId: string, from: number, to: number): Set<number>;
}

export interface MessageLog {
  /**
   * Append a message as seq = last + 1, or return the one this sender already stored under this
   * clientId (the idempotency key). The sender's read cursor moves past their own message.
   */
  append(input: NewMessage): SendResult;
  message(seq: number): Message | undefined;
  findByClientId(sender: string, clientId: string): Message | undefined;
  page(range: HistoryRange): Message[];
  /** The last message people read (not a `system` event), for previews. */
  lastCountable(): Message | undefined;
  /** Replace a message's body (an edit, a recall, an approval's new state); undefined for an unknown seq. */
  revise(seq: number, change: { body: JsonObject; editedAt?: number; recalled?: boolean }): Message | undefined;
  /** The `message_edited` events about a message (they carry its body). */
  editEventsOf(seq: number): Message[];
  /** The seq of the first card about a CRM object in this conversation, if any. */
  firstCard(source: string, objectType: string, objectId: string): number | undefined;
}

export interface ReactionStore {
  /** Add or remove one reaction; true when something changed. */
  set(seq: number, userId: string, emoji: string, add: boolean, now: number): boolean;
  /** Distinct emoji a user has put on a message. */
  countOf(seq: number, userId: string): number;
  /** Reactions of messages in [from, to]: seq -> emoji -> user ids (in the order they reacted). */
  between(from: number, to: number): Map<number, Record<string, string[]>>;
}

export interface EditStore {
  /** Keep the body a message had before an edit. */
  record(seq: number, body: JsonObject, editedAt: number): void;
  /** Earlier bodies of a message, oldest first. */
  of(seq: number): EditHistory["edits"];
  /** Drop a message's edit history (a recall removes every trace of the body). */
  forget(seq: number): void;
}

export interface AttachmentStore {
  register(record: AttachmentRecord): void;
  get(id: string): AttachmentRecord | undefined;
  markSent(id: string, seq: number): void;
  /** Forget an upload and, in the same transaction, schedule the deletion of its bytes. */
  discard(id: string, now: number): void;
}

/** Events for the tenant's outbound CRM webhooks, handed to the queue by the outbox. */
export interface OutboundEvents {
  enqueue(type: "card.action" | "approval.decided", payload: JsonObject, now: number): void;
}

/** Everything a conversation keeps. */
export interface ConversationStore {
  readonly room: RoomHeaderStore;
  readonly members: MemberStore;
  readonly readers: ReaderStore;
  readonly log: MessageLog;
  readonly reactions: ReactionStore;
  readonly edits: EditStore;
  readonly attachments: AttachmentStore;
  readonly outbound: OutboundEvents;
}
