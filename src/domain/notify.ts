/**
 * Who hears about new messages, and how. A conversation hands presence a batch of its new messages
 * with the recipients on that presence shard; these pure rules decide the frames and the pushes.
 */

export interface NotifyMember {
  userId: string;
  muted: boolean;
  /** This member's unread count in the conversation, exact at the time of the batch. */
  unread: number;
  /** The member has a socket open on the conversation: they are reading it, so they get no push. */
  reading?: boolean;
}

export interface NotifyMessage {
  seq: number;
  sender: string;
  kind: string;
  preview: string;
  /** User ids mentioned, and "all". */
  mentions: string[];
}

export interface NotifyBatch {
  tenantId: string;
  conversationId: string;
  conversationType: "direct" | "group";
  conversationName: string | null;
  /** Members whose presence shard receives this batch (the sender included, when on this shard). */
  members: NotifyMember[];
  /** New messages in ascending seq. */
  messages: NotifyMessage[];
}

export interface NotifyFrame {
  type: "notify";
  conversationId: string;
  seq: number;
  sender: string;
  preview: string;
  kind: string;
  muted: boolean;
}

export interface PushPlan {
  userId: string;
  message: NotifyMessage;
  unreadHere: number;
}

/**
 * The mute rule: a muted conversation sends no push, except for a message that mentions the
 * recipient by id (an `@all` does not break through a mute). Membership changes (`system`) never push.
 */
export function pushWorthy(member: NotifyMember, message: NotifyMessage): boolean {
  if (message.sender === member.userId || message.kind === "system") return false;
  return !member.muted || message.mentions.includes(member.userId);
}

/**
 * Frames for every online recipient and message; for each offline recipient at most one push, for
 * the newest push-worthy message of the batch (a burst becomes one notification whose badge counts it all).
 * A recipient reading the conversation (a socket open on it) gets no push, whatever their device channel.
 */
export function planNotifications(batch: NotifyBatch, isOnline: (userId: string) => boolean): {
  frames: { userId: string; frame: NotifyFrame }[];
  pushes: PushPlan[];
} {
  const frames: { userId: string; frame: NotifyFrame }[] = [];
  const pushes: PushPlan[] = [];
  for (const member of batch.members) {
    const theirs = batch.messages.filter((m) => m.sender !== member.userId);
    if (theirs.length === 0) continue;
    if (isOnline(member.userId)) {
      for (const m of theirs) {
        frames.push({
          userId: member.userId,
          frame: {
            type: "notify",
            conversationId: batch.conversationId,
            seq: m.seq,
            sender: m.sender,
            preview: m.preview,
            kind: m.kind,
            muted: member.muted,
          },
        });
      }
      continue;
    }
    if (member.reading) continue;
    const newest = [...theirs].reverse().find((m) => pushWorthy(member, m));
    if (newest) pushes.push({ userId: member.userId, message: newest, unreadHere: member.unread });
  }
  return { frames, pushes };
}

/** The presence shard of a user: a stable hash of the user id, modulo the deployment's shard count. */
export function presenceShard(userId: string, shards: number): number {
  if (!Number.isInteger(shards) || shards <= 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

/** The Durable Object name of a tenant's presence shard. */
export function presenceName(tenantId: string, shard: number): string {
  return `presence:${tenantId}:${shard}`;
}

/** The tenant and shard a presence object's name says (see presenceName), or undefined for another name. */
export function parsePresenceName(name: string): { tenantId: string; shard: number } | undefined {
  const match = /^presence:([A-Za-z0-9_.-]{1,64}):(\d{1,3})$/.exec(name);
  const [, tenantId, shard] = match ?? [];
  return tenantId !== undefined && shard !== undefined ? { tenantId, shard: Number(shard) } : undefined;
}

/** The configured shard count (PRESENCE_SHARDS), 1 when unset or invalid. */
export function shardCount(value: string | undefined): number {
  const n = Number(value ?? "1");
  return Number.isInteger(n) && n >= 1 && n <= 256 ? n : 1;
}
