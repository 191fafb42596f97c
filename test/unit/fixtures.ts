import { Conversation } from "../../src/domain/conversation";
import { MessageActions } from "../../src/domain/message-actions";
import type { Actor } from "../../src/domain/result";
import { Roster } from "../../src/domain/roster";
import { MemoryStore, RecordingFanout } from "./memory-store";

export const TENANT = "acme";

/** A member of the test tenant acting from one device. */
export function as(userId: string, extra: Partial<Actor> = {}): Actor {
  return { tenantId: TENANT, userId, deviceId: `${userId}-phone`, ...extra };
}

/** A group owned by alice with the given other members, over memory. */
export function group(members: string[] = ["bob", "carol"], now = 1_000) {
  const store = new MemoryStore();
  const fanout = new RecordingFanout();
  const conversation = new Conversation(store, fanout);
  const roster = new Roster(conversation);
  const actions = new MessageActions(conversation);
  const created = roster.createGroup({ tenantId: TENANT, conversationId: "g_1", name: "Deals", owner: "alice", members, now });
  if (!created.ok) throw new Error(created.message);
  return { store, fanout, conversation, roster, actions };
}

/** Unwrap a result the test expects to succeed. */
export function value<T>(result: { ok: true; value: T } | { ok: false; code: string; message: string }): T {
  if (!result.ok) throw new Error(`expected success, got ${result.code}: ${result.message}`);
  return result.value;
}
