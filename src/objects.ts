import type { Message } from "./protocol/frames";
import { roomName } from "./protocol/ids";
import type { Role } from "./domain/membership";
import type { Actor, Result } from "./domain/result";
import type {
  AttachmentRecord,
  AttachmentUpload,
  ConversationView,
  DecisionInput,
  EditHistory,
  HistoryRange,
  Receipts,
  SendInput,
  SendResult,
} from "./domain/model";
import { presenceName, presenceShard, shardCount, type NotifyBatch } from "./domain/notify";
import type { Device } from "./storage/presence-store";
import type { PushPlatform, PushTarget } from "./push/types";

/**
 * The RPC surfaces of both Durable Objects, declared here so that callers depend on an interface and
 * never on the classes (workers/ implements them with `implements`). Arguments and results are plain
 * JSON data, which structured clone carries unchanged.
 */

/** The RPC surface of a conversation object (`workers/conversation-room.ts`). */
export interface ConversationRoomRpc {
  /** The WebSocket upgrade, with the identity the Worker verified in ACTOR_HEADER. */
  fetch(request: Request): Promise<Response>;
  openDirect(input: { tenantId: string; conversationId: string; members: [string, string]; actor: string }): Promise<
    Result<{ created: boolean; conversation: ConversationView }>
  >;
  createGroup(input: { tenantId: string; conversationId: string; name: string; owner: string; members: string[] }): Promise<Result<ConversationView>>;
  getConversation(actor: Actor): Promise<Result<ConversationView>>;
  addMembers(actor: Actor, userIds: string[]): Promise<Result<ConversationView>>;
  removeMember(actor: Actor, userId: string): Promise<Result<{ removed: boolean }>>;
  setRole(actor: Actor, userId: string, role: Role): Promise<Result<ConversationView>>;
  sendMessage(actor: Actor, input: SendInput): Promise<Result<SendResult>>;
  history(actor: Actor, range: HistoryRange): Promise<Result<Message[]>>;
  markRead(actor: Actor, seq: number): Promise<Result<{ readSeq: number }>>;
  setMuted(actor: Actor, muted: boolean): Promise<Result<{ conversationId: string; muted: boolean }>>;
  /** Retention: delete messages older than `cutoff`; 0 for another tenant's call or an empty object. */
  purgeBefore(tenantId: string, cutoff: number): Promise<number>;
  react(actor: Actor, seq: number, emoji: string, add: boolean): Promise<Result<{ changed: boolean; reactions: Record<string, string[]> }>>;
  editMessage(actor: Actor, seq: number, body: unknown): Promise<Result<Message>>;
  editHistory(actor: Actor, seq: number): Promise<Result<EditHistory>>;
  recallMessage(actor: Actor, seq: number): Promise<Result<Message>>;
  hideMessage(actor: Actor, seq: number): Promise<Result<{ hidden: boolean }>>;
  receipts(actor: Actor, seq: number): Promise<Result<Receipts>>;
  decide(actor: Actor, seq: number, input: DecisionInput): Promise<Result<{ decision: SendResult; request: Message; final: boolean }>>;
  registerAttachment(actor: Actor, upload: AttachmentUpload): Promise<Result<AttachmentRecord>>;
  attachmentFor(actor: Actor, id: string): Promise<Result<AttachmentRecord>>;
  /** An attachment by id, for a signed download link (whose signature already proves access). */
  attachmentForLink(tenantId: string, id: string): Promise<Result<AttachmentRecord>>;
  cardAction(actor: Actor, seq: number, action: string): Promise<Result<{ card: Message }>>;
  /** Close every socket of a user on this conversation, after telling them why. */
  disconnectUser(userId: string, code: number, message: string): Promise<void>;
}

/** A presence shard's address: every call names its tenant and shard, which the object records on first use. */
export interface ShardAddress {
  tenantId: string;
  shard: number;
}

export type PresenceStatus = "online" | "offline";

/** The RPC surface of a presence shard (`workers/tenant-presence.ts`). */
export interface TenantPresenceRpc {
  /** The device channel's WebSocket upgrade, with the identity the Worker verified in ACTOR_HEADER. */
  fetch(request: Request): Promise<Response>;
  getPresence(address: ShardAddress, userIds: string[]): Promise<Record<string, { status: PresenceStatus; lastSeen: number | null }>>;
  /** Deliver presence frames to the given recipients' open channels on this shard. */
  relayPresence(address: ShardAddress, updates: { userId: string; status: PresenceStatus; recipients: string[] }[]): Promise<void>;
  registerDevice(address: ShardAddress, userId: string, device: { deviceId: string; platform: PushPlatform; target: PushTarget | null }): Promise<Device>;
  deleteDevice(address: ShardAddress, userId: string, deviceId: string): Promise<boolean>;
  listDevices(address: ShardAddress, userId: string): Promise<(Device & { online: boolean })[]>;
  /** Queue a test notification to one of the caller's own devices. */
  testPush(address: ShardAddress, userId: string, deviceId: string): Promise<Result<{ jobId: string }>>;
  /** New messages of one conversation, for the recipients on this shard. Idempotent per (conversation, seq). */
  notify(address: ShardAddress, batch: NotifyBatch): Promise<{ frames: number; jobs: number }>;
  /** Close every device channel of a user (tokens revoked, user deactivated). */
  closeUser(address: ShardAddress, userId: string, code: number, reason: string): Promise<number>;
}

/** The conversation object of `tenantId:conversationId`. */
export function roomStub(env: Env, tenantId: string, conversationId: string): ConversationRoomRpc {
  return env.ROOMS.getByName(roomName(tenantId, conversationId));
}

/** A tenant's presence shard. */
export function presenceStub(env: Env, tenantId: string, shard: number): TenantPresenceRpc {
  return env.PRESENCE.getByName(presenceName(tenantId, shard));
}

/** The shard, and its stub, that holds a user. */
export function presenceOf(env: Env, tenantId: string, userId: string): { address: ShardAddress; stub: TenantPresenceRpc } {
  const shard = presenceShard(userId, shardCount(env.PRESENCE_SHARDS));
  return { address: { tenantId, shard }, stub: presenceStub(env, tenantId, shard) };
}
