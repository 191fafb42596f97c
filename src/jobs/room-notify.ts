import { presenceShard, shardCount, type NotifyMember, type NotifyMessage } from "../domain/notify";
import { previewOf } from "../domain/kinds";
import { presenceStub } from "../objects";
import { retryDelay } from "../storage/room-effects";
import type { OutboxHost, OutboxSchedule } from "./outbox-host";

/** How long new messages wait to be handed to presence together while a conversation is quiet... */
export const NOTIFY_COALESCE_MS = 10;
/**
 * ...and, while it is busy (a hand-over started within the last second), the least time between
 * two hand-overs: a conversation costs presence at most two calls a second however fast it talks,
 * and 100 busy conversations cost 200, not one per message. (Each call costs both objects about a
 * millisecond of CPU; in a conversation that busy, a `notify` half a second late goes unnoticed.)
 */
export const NOTIFY_COALESCE_MAX_MS = 500;
const NOTIFY_BUSY_WINDOW_MS = 1_000;
const NOTIFY_BATCH = 100;

/**
 * Hands new messages to presence soon (the notify latency is what people feel); the watermark
 * `notified_seq` makes it an outbox: a failure is retried by the alarm, and presence ignores seqs
 * it has already handled. A quiet conversation hands over within NOTIFY_COALESCE_MS; a busy one
 * at most every NOTIFY_COALESCE_MAX_MS, many messages at once instead of one call per message.
 */
export class NotifyHandOver {
  /** The hand-over under way (waiting out its delay, or talking to presence), if any. */
  private notifying: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private wake: (() => void) | undefined;
  private again = false;
  /** When the last hand-over started (this object's clock). */
  private lastAt: number | undefined;

  constructor(
    private readonly host: OutboxHost,
    /** The alarm persists the watermark, and retries a failed hand-over. */
    private readonly loop: OutboxSchedule,
  ) {}

  /** Start a hand-over of what is pending, after the coalescing wait; one at a time. */
  kick(): void {
    const room = this.host.store.header.get();
    if (!room || room.notifiedSeq >= room.lastSeq) return;
    if (this.notifying) {
      this.again = true;
      return;
    }
    const wait = this.waitMs(Date.now());
    this.notifying = new Promise<void>((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, wait);
    })
      .then(() => {
        this.timer = undefined;
        this.wake = undefined;
        return this.drain();
      })
      .catch((err) => {
        console.error("notify failed; the alarm retries it", err);
        this.loop.schedule(retryDelay(1));
      })
      .finally(() => {
        this.notifying = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Hand over what is pending now, without the wait, and return when presence has it (the alarm's run). */
  async now(): Promise<void> {
    this.kick();
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.wake?.();
    }
    await this.notifying;
  }

  /** Quiet: almost at once. Busy: the rest of the least interval since the last hand-over started. */
  private waitMs(now: number): number {
    const last = this.lastAt;
    if (last === undefined || now - last >= NOTIFY_BUSY_WINDOW_MS) return NOTIFY_COALESCE_MS;
    return Math.max(NOTIFY_COALESCE_MS, last + NOTIFY_COALESCE_MAX_MS - now);
  }

  private async drain(): Promise<void> {
    this.lastAt = Date.now();
    const { store, env } = this.host;
    for (;;) {
      const room = store.header.require();
      if (room.notifiedSeq >= room.lastSeq) return;
      const messages = store.log.page({ after: room.notifiedSeq, limit: NOTIFY_BATCH });
      const last = messages.at(-1);
      if (!last) return;
      const shards = shardCount(env.PRESENCE_SHARDS);
      const live = this.host.liveUsers();
      const byShard = new Map<number, NotifyMember[]>();
      for (const m of store.members.active().values()) {
        const shard = presenceShard(m.userId, shards);
        const member: NotifyMember = { userId: m.userId, muted: m.muted, unread: Math.max(0, room.lastSeq - m.readSeq) };
        if (live.has(m.userId)) member.reading = true;
        let list = byShard.get(shard);
        if (!list) byShard.set(shard, (list = []));
        list.push(member);
      }
      const notifyMessages: NotifyMessage[] = messages.map((m) => ({
        seq: m.seq,
        sender: m.sender,
        kind: m.kind,
        preview: previewOf(m.kind, m.body),
        mentions: Array.isArray(m.body.mentions) ? m.body.mentions.filter((x): x is string => typeof x === "string") : [],
      }));
      await Promise.all(
        [...byShard].map(([shard, members]) =>
          presenceStub(env, room.tenantId, shard).notify(
            { tenantId: room.tenantId, shard },
            {
              tenantId: room.tenantId,
              conversationId: room.conversationId,
              conversationType: room.type,
              conversationName: room.name,
              members,
              messages: notifyMessages,
            },
          ),
        ),
      );
      store.header.markNotified(last.seq);
      // The alarm persists the watermark, batched with the mirror's cadence.
      this.loop.schedule(this.loop.mirrorDelay());
      // A full batch means a backlog: go on. Otherwise what came meanwhile waits for the next turn.
      if (messages.length < NOTIFY_BATCH) return;
    }
  }
}
