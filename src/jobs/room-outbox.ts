import type { RoomStore } from "../storage/room-store";
import { mirrorStatements } from "../storage/conversations";
import { attachmentKey } from "../storage/files";
import { endpointsOf, endpointsQuery, type EndpointRow, type OutboundEventType } from "../storage/endpoints";
import { retryDelay, type StoredEffect } from "../storage/room-effects";
import { tenantDb } from "../storage/shards";
import type { OutboundJob } from "../crm/outbound";
import { presenceShard, shardCount, type NotifyMember } from "../domain/notify";
import { previewOf } from "../domain/kinds";
import { presenceStub } from "../objects";
import { logLine } from "../log";
import { adjustLevel } from "../storage/usage";
import type { RoomMeter } from "./room-meter";

/** Delay between a change and its D1 mirror flush while a conversation is quiet. */
export const MIRROR_DELAY_MS = 200;
/** Under load the delay grows with the rows each flush carries, up to this (search stays within ~2 s of live). */
export const MIRROR_DELAY_MAX_MS = 1_000;
/** An upload never sent in a message is deleted after this long. */
export const ORPHAN_AFTER_MS = 24 * 3600_000;
/** How long new messages wait to be handed to presence together while a conversation is quiet... */
export const NOTIFY_COALESCE_MS = 10;
/**
 * ...and, while it is busy (a hand-over started within the last second), the least time between
 * two hand-overs: a conversation costs presence at most four calls a second however fast it talks,
 * and 100 busy conversations cost 400, not one per message.
 */
export const NOTIFY_COALESCE_MAX_MS = 250;
const NOTIFY_BUSY_WINDOW_MS = 1_000;
const NOTIFY_BATCH = 100;
const OUTBOUND_BATCH = 100;
const EFFECTS_PER_RUN = 100;
const QUEUE_BATCH = 100;

/** What the pipeline needs from its Durable Object. */
export interface OutboxHost {
  readonly env: Env;
  readonly storage: DurableObjectStorage;
  readonly store: RoomStore;
  /** The attachment bucket (deletes only). */
  files(): Pick<R2Bucket, "delete">;
  /** User ids with an open socket on this conversation (they are reading it: no push for them). */
  liveUsers(): Set<string>;
  /** Usage counters and the messages quota, carried by the mirror flush. */
  readonly meter: RoomMeter;
}

/**
 * The side-effect pipeline of one conversation: one loop, run by the object's alarm, drains every
 * effect with one retry policy: the D1 mirror (history, search, conversation and member rows), the
 * outbound CRM events (message.created from the log, card.action and approval.decided from the
 * outbox), and the durable effects (R2 deletes). Presence hand-overs run beside it on a short
 * timer, since notify latency is what people feel; a failed hand-over falls back to the alarm.
 * Every effect is idempotent, so a retry after a crash between effect and bookkeeping is harmless.
 */
export class RoomOutbox {
  private armedAt: number | undefined;
  private flushTail: Promise<unknown> | undefined;
  private lastFlushRows = 0;
  /** The hand-over under way (waiting out its delay, or talking to presence), if any. */
  private notifying: Promise<void> | undefined;
  private notifyTimer: ReturnType<typeof setTimeout> | undefined;
  private wakeNotify: (() => void) | undefined;
  private notifyAgain = false;
  /** When the last hand-over started (this object's clock). */
  private lastNotifyAt: number | undefined;

  constructor(private readonly host: OutboxHost) {}

  private get store(): RoomStore {
    return this.host.store;
  }

  /** After a change on the WebSocket path: notify now, everything else on the alarm's cadence. */
  changed(): void {
    this.kickNotify();
    this.schedule(this.mirrorDelay());
  }

  /**
   * HTTP callers get read-your-writes on the D1 listing: the flush runs before the response. A
   * failed flush does not fail the request (the change is durable); the alarm retries it.
   */
  async changedNow(): Promise<void> {
    this.kickNotify();
    try {
      await this.flushMirror();
    } catch (err) {
      console.error("mirror flush failed; the alarm retries it", err);
    }
    this.schedule(this.mirrorDelay());
  }

  /** Arm the alarm `delayMs` from now unless it already fires sooner. */
  schedule(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.armedAt !== undefined && this.armedAt <= at) return;
    if (!this.pendingWork()) return;
    this.armedAt = at;
    void this.host.storage.setAlarm(at);
  }

  /** One run of the loop (the object's alarm). */
  async run(): Promise<void> {
    this.armedAt = undefined;
    if (!this.store.getRoom()) return;
    const now = Date.now();
    await this.notifyNow();
    this.store.persistNotified();
    this.sweepOrphans(now);
    let endpoints: EndpointRow[] | undefined;
    let retryAt: number | undefined;
    try {
      endpoints = await this.flushMirror();
    } catch (err) {
      const attempts = this.store.mirrorFailed();
      retryAt = now + retryDelay(attempts);
      console.error(`mirror flush failed (attempt ${attempts}); retrying`, err);
    }
    try {
      await this.runEffects(now, endpoints);
    } catch (err) {
      console.error("side effects failed; retrying", err);
    }
    try {
      await this.drainMessageEvents(endpoints);
    } catch (err) {
      retryAt = Math.min(retryAt ?? Infinity, now + retryDelay(1));
      console.error("message.created events failed; retrying", err);
    }
    await this.rearm(retryAt);
  }

  private pendingWork(): boolean {
    const room = this.store.getRoom();
    if (!room) return false;
    return (
      room.mirroredVersion < room.version ||
      room.mirroredSeq < room.lastSeq ||
      room.outboundSeq < room.lastSeq ||
      room.notifiedSeq < room.lastSeq ||
      this.store.notifiedDirty() ||
      this.store.effects.nextDue() !== undefined
    );
  }

  /** Set the alarm for the earliest of: pending mirror or events, the next effect, the next orphan. */
  private async rearm(retryAt: number | undefined): Promise<void> {
    const room = this.store.requireRoom();
    const times: number[] = [];
    if (retryAt !== undefined) times.push(retryAt);
    else if (room.mirroredVersion < room.version || room.mirroredSeq < room.lastSeq || room.outboundSeq < room.lastSeq || room.notifiedSeq < room.lastSeq) {
      times.push(Date.now() + this.mirrorDelay());
    }
    const effect = this.store.effects.nextDue();
    if (effect !== undefined) times.push(effect);
    const oldest = this.store.oldestUnsentAttachment();
    if (oldest !== undefined) times.push(oldest + ORPHAN_AFTER_MS + 1_000);
    if (times.length === 0) return;
    const at = Math.max(Math.min(...times), Date.now());
    this.armedAt = at;
    await this.host.storage.setAlarm(at);
  }

  /** Make sure the alarm runs when the oldest unsent upload becomes an orphan. */
  async armOrphanSweep(): Promise<void> {
    const oldest = this.store.oldestUnsentAttachment();
    if (oldest === undefined) return;
    const due = oldest + ORPHAN_AFTER_MS + 1_000;
    const current = await this.host.storage.getAlarm();
    if (current === null || current > due) {
      this.armedAt = due;
      await this.host.storage.setAlarm(due);
    }
  }

  /** The growing delay: quiet conversations flush fast, busy ones carry more rows per flush. */
  private mirrorDelay(): number {
    return Math.min(MIRROR_DELAY_MAX_MS, MIRROR_DELAY_MS * Math.max(1, this.lastFlushRows));
  }

  // ---- durable effects ----

  /** Uploads never sent within ORPHAN_AFTER_MS become file deletions in the outbox. */
  private sweepOrphans(now: number): void {
    const oldest = this.store.oldestUnsentAttachment();
    if (oldest === undefined || oldest >= now - ORPHAN_AFTER_MS) return;
    for (const id of this.store.orphanAttachments(now - ORPHAN_AFTER_MS)) this.store.discardAttachment(id, now);
  }

  private async runEffects(now: number, prefetched: EndpointRow[] | undefined): Promise<void> {
    const due = this.store.effects.due(now, EFFECTS_PER_RUN);
    if (due.length === 0) return;
    const room = this.store.requireRoom();
    const files = due.filter((e) => e.effect.kind === "file.delete");
    const events = due.filter((e) => e.effect.kind === "outbound");
    await Promise.all([
      this.settle(files, async () => {
        const keys = files.map((e) => (e.effect.kind === "file.delete" ? attachmentKey(room.tenantId, room.conversationId, e.effect.attachmentId) : ""));
        await this.host.files().delete(keys);
        const freed = files.reduce((sum, e) => sum + (e.effect.kind === "file.delete" ? (e.effect.size ?? 0) : 0), 0);
        if (freed > 0) await adjustLevel(tenantDb(this.host.env, room.tenantId), room.tenantId, "attachment_bytes_stored", -freed);
      }),
      this.settle(events, async () => {
        const endpoints = prefetched ?? (await endpointsOf(this.host.env.DB, room.tenantId));
        const jobs: OutboundJob[] = [];
        for (const e of events) {
          if (e.effect.kind !== "outbound") continue;
          const { type, payload, createdAt } = e.effect;
          for (const endpoint of this.subscribed(endpoints, type)) {
            jobs.push({
              eventId: `${room.conversationId}:${e.key}:${type}`,
              endpointId: endpoint.id,
              tenantId: room.tenantId,
              type,
              data: { conversation: this.conversationRef(), ...payload },
              createdAt,
            });
          }
        }
        await this.enqueueEvents(jobs);
      }),
    ]);
  }

  /** Run one group of effects; on success they leave the outbox, on failure they wait by the retry policy. */
  private async settle(effects: StoredEffect[], run: () => Promise<void>): Promise<void> {
    if (effects.length === 0) return;
    try {
      await run();
      this.store.effects.done(effects.map((e) => e.id));
    } catch (err) {
      this.store.effects.failed(effects, Date.now());
      console.error(`${effects.length} side effects failed; retrying by the policy`, err);
    }
  }

  // ---- outbound CRM events from the log ----

  private subscribed(endpoints: EndpointRow[], type: OutboundEventType): EndpointRow[] {
    const id = this.store.requireRoom().conversationId;
    return endpoints.filter((e) => e.events.includes(type) && (e.conversationIds === null || e.conversationIds.includes(id)));
  }

  private conversationRef() {
    const room = this.store.requireRoom();
    return { id: room.conversationId, type: room.type, name: room.name };
  }

  private async enqueueEvents(jobs: OutboundJob[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += QUEUE_BATCH) await this.host.env.EVENTS_QUEUE.sendBatch(jobs.slice(i, i + QUEUE_BATCH).map((body) => ({ body })));
  }

  /**
   * message.created for every new message above the watermark, one job per subscribed endpoint. The
   * endpoints are read in the same run (no cache): a new, changed or deleted endpoint applies to the
   * next event. The watermark moves only after the queue accepted the jobs; event ids make redelivery harmless.
   */
  private async drainMessageEvents(prefetched: EndpointRow[] | undefined): Promise<void> {
    const room = this.store.requireRoom();
    if (room.outboundSeq >= room.lastSeq) return;
    const endpoints = prefetched ?? (await endpointsOf(this.host.env.DB, room.tenantId));
    const targets = this.subscribed(endpoints, "message.created");
    if (targets.length === 0) {
      // Nobody subscribes: nothing to hand over, and nothing to read.
      this.store.markOutboundSeq(room.lastSeq);
      return;
    }
    const messages = this.store.page({ after: room.outboundSeq, limit: OUTBOUND_BATCH });
    const now = Date.now();
    const jobs: OutboundJob[] = [];
    for (const m of messages) {
      if (m.kind === "system") continue;
      for (const e of targets) {
        jobs.push({
          eventId: `${room.conversationId}:${m.seq}:message.created`,
          endpointId: e.id,
          tenantId: room.tenantId,
          type: "message.created",
          data: { conversation: this.conversationRef(), message: m },
          createdAt: now,
        });
      }
    }
    await this.enqueueEvents(jobs);
    const last = messages.at(-1);
    if (last) this.store.markOutboundSeq(last.seq);
  }

  // ---- D1 mirror ----

  /**
   * Copy what changed to D1 in one batch; flushes run one after another, never side by side. When
   * outbound events are pending, the tenant's endpoints are read in the same batch (no extra round trip).
   */
  flushMirror(): Promise<EndpointRow[] | undefined> {
    const run = async (): Promise<EndpointRow[] | undefined> => {
      const room = this.store.getRoom();
      if (!room) return undefined;
      const snapshot = this.store.mirrorSnapshot();
      if (!snapshot) {
        this.lastFlushRows = 0;
        return undefined;
      }
      const db = tenantDb(this.host.env, snapshot.tenantId);
      // Endpoints and quotas live in the primary database: they ride along only when it is the tenant's.
      const primary = db === this.host.env.DB;
      const wantEndpoints = primary && (room.outboundSeq < room.lastSeq || this.store.effects.nextDue() !== undefined);
      const now = Date.now();
      const fresh = snapshot.history.filter((r) => r.seq > room.mirroredSeq);
      const statements = mirrorStatements(db, snapshot);
      const mirrored = statements.length;
      const meter = primary ? this.host.meter.statements(db, snapshot.tenantId, now, fresh.filter((r) => r.kind !== "system").length) : undefined;
      if (meter) statements.push(...meter.statements);
      if (wantEndpoints) statements.push(endpointsQuery(db, snapshot.tenantId));
      const results = await db.batch(statements);
      this.store.markMirrored(snapshot.version, snapshot.historyThrough, snapshot.revised);
      meter?.settle(results.slice(mirrored, mirrored + meter.statements.length));
      this.lastFlushRows = snapshot.history.length;
      logLine("mirror.flush", {
        tenantId: snapshot.tenantId,
        conversationId: snapshot.conversationId,
        rows: snapshot.history.length,
        lagMs: fresh[0] ? now - fresh[0].ts : 0,
      });
      return wantEndpoints ? endpointsQuery.rows(results.at(-1)) : undefined;
    };
    const next = (this.flushTail ?? Promise.resolve()).then(run, run);
    this.flushTail = next.catch(() => undefined);
    return next;
  }

  // ---- presence hand-overs ----

  /**
   * Hand new messages to presence soon (the notify latency is what people feel); the watermark
   * `notified_seq` makes it an outbox: a failure is retried by the alarm, and presence ignores seqs
   * it has already handled. A quiet conversation hands over within NOTIFY_COALESCE_MS; a busy one
   * at most every NOTIFY_COALESCE_MAX_MS, many messages at once instead of one call per message.
   */
  kickNotify(): void {
    const room = this.store.getRoom();
    if (!room || room.notifiedSeq >= room.lastSeq) return;
    if (this.notifying) {
      this.notifyAgain = true;
      return;
    }
    const wait = this.notifyWait(Date.now());
    this.notifying = new Promise<void>((resolve) => {
      this.wakeNotify = resolve;
      this.notifyTimer = setTimeout(resolve, wait);
    })
      .then(() => {
        this.notifyTimer = undefined;
        this.wakeNotify = undefined;
        return this.drainNotify();
      })
      .catch((err) => {
        console.error("notify failed; the alarm retries it", err);
        this.schedule(retryDelay(1));
      })
      .finally(() => {
        this.notifying = undefined;
        if (this.notifyAgain) {
          this.notifyAgain = false;
          this.kickNotify();
        }
      });
  }

  /** Hand over what is pending now, without the wait, and return when presence has it (the alarm's run). */
  private async notifyNow(): Promise<void> {
    this.kickNotify();
    if (this.notifyTimer !== undefined) {
      clearTimeout(this.notifyTimer);
      this.wakeNotify?.();
    }
    await this.notifying;
  }

  /** Quiet: almost at once. Busy: the rest of the least interval since the last hand-over started. */
  private notifyWait(now: number): number {
    const last = this.lastNotifyAt;
    if (last === undefined || now - last >= NOTIFY_BUSY_WINDOW_MS) return NOTIFY_COALESCE_MS;
    return Math.max(NOTIFY_COALESCE_MS, last + NOTIFY_COALESCE_MAX_MS - now);
  }

  private async drainNotify(): Promise<void> {
    this.lastNotifyAt = Date.now();
    for (;;) {
      const room = this.store.requireRoom();
      if (room.notifiedSeq >= room.lastSeq) return;
      const messages = this.store.page({ after: room.notifiedSeq, limit: NOTIFY_BATCH });
      const last = messages.at(-1);
      if (!last) return;
      const env = this.host.env;
      const shards = shardCount(env.PRESENCE_SHARDS);
      const live = this.host.liveUsers();
      const byShard = new Map<number, NotifyMember[]>();
      for (const m of this.store.activeMembers().values()) {
        const shard = presenceShard(m.userId, shards);
        const member: NotifyMember = { userId: m.userId, muted: m.muted, unread: Math.max(0, room.lastSeq - m.readSeq) };
        if (live.has(m.userId)) member.reading = true;
        let list = byShard.get(shard);
        if (!list) byShard.set(shard, (list = []));
        list.push(member);
      }
      const notifyMessages = messages.map((m) => ({
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
      this.store.markNotified(last.seq);
      // The alarm persists the watermark, batched with the mirror's cadence.
      this.schedule(this.mirrorDelay());
      // A full batch means a backlog: go on. Otherwise what came meanwhile waits for the next turn.
      if (messages.length < NOTIFY_BATCH) return;
    }
  }
}
