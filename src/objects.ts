import type { ConversationRoom } from "../workers/conversation-room";
import type { TenantPresence } from "../workers/tenant-presence";
import { roomName } from "./protocol/ids";
import { presenceName, presenceShard, shardCount } from "./domain/notify";

/**
 * Stubs of the Durable Objects, addressed by deterministic names. Arguments and results are plain
 * JSON data, which structured clone carries unchanged, so the classes' own method types describe
 * the stubs exactly (the generated `Rpc.Provider` mapping recurses without end on JSON bodies).
 */

/** The RPC surface of a conversation object. */
export type RoomRpc = Pick<
  ConversationRoom,
  | "fetch"
  | "openDirect"
  | "createGroup"
  | "getConversation"
  | "addMembers"
  | "removeMember"
  | "setRole"
  | "sendMessage"
  | "history"
  | "markRead"
  | "setMuted"
  | "purgeBefore"
  | "react"
  | "editMessage"
  | "editHistory"
  | "recallMessage"
  | "hideMessage"
  | "receipts"
  | "decide"
  | "registerAttachment"
  | "attachmentFor"
  | "attachmentForLink"
  | "cardAction"
  | "disconnectUser"
>;

export function roomStub(env: Env, tenantId: string, conversationId: string): RoomRpc {
  return env.ROOMS.getByName(roomName(tenantId, conversationId)) as unknown as RoomRpc;
}

/** A presence shard's address: every call names its tenant and shard, which the object records on first use. */
export interface ShardAddress {
  tenantId: string;
  shard: number;
}

/** The RPC surface of a presence shard. */
export type PresenceRpc = Pick<
  TenantPresence,
  "fetch" | "getPresence" | "relayPresence" | "registerDevice" | "deleteDevice" | "listDevices" | "testPush" | "notify" | "closeUser"
>;

export function presenceStub(env: Env, tenantId: string, shard: number): PresenceRpc {
  return env.PRESENCE.getByName(presenceName(tenantId, shard)) as unknown as PresenceRpc;
}

/** The shard, and its stub, that holds a user. */
export function presenceOf(env: Env, tenantId: string, userId: string): { address: ShardAddress; stub: PresenceRpc } {
  const shard = presenceShard(userId, shardCount(env.PRESENCE_SHARDS));
  return { address: { tenantId, shard }, stub: presenceStub(env, tenantId, shard) };
}
