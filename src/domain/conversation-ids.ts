import { sha256Hex } from "../lib/hash";
import { randomHex } from "../lib/random";

/**
 * Conversation ids. A direct conversation's id is derived from the tenant and the (unordered) pair,
 * so two people opening it at the same moment reach the same object, which creates it once.
 */
export async function directConversationId(tenantId: string, a: string, b: string): Promise<string> {
  const [first, second] = a < b ? [a, b] : [b, a];
  const digest = await sha256Hex(`direct\n${tenantId}\n${first}\n${second}`);
  return `d_${digest.slice(0, 32)}`;
}

/** A new random group id. */
export function newGroupId(): string {
  return `g_${randomHex(16)}`;
}
