import type { ConversationRoom } from "../../workers/conversation-room";
import { roomName } from "../protocol/ids";

/** The RPC surface of a conversation object, as the Worker calls it. */
export type RoomRpc = Pick<
  ConversationRoom,
  "fetch" | "openDirect" | "createGroup" | "getConversation" | "addMembers" | "removeMember" | "setRole" | "sendMessage" | "history" | "markRead" | "setMuted"
>;

/**
 * The stub of a conversation's object. Arguments and results are plain JSON data, which structured
 * clone carries unchanged, so the class's own method types describe the stub exactly (the generated
 * `Rpc.Provider` mapping recurses without end on JSON message bodies).
 */
export function roomStub(env: Env, tenantId: string, conversationId: string): RoomRpc {
  return env.ROOMS.getByName(roomName(tenantId, conversationId)) as unknown as RoomRpc;
}
