import { attachmentKey } from "../storage/files";
import type { EndpointRow } from "../storage/endpoints";
import { retryDelay, type StoredEffect } from "../storage/room-effects";
import { tenantDb } from "../storage/shards";
import { adjustLevel } from "../storage/usage";
import type { OutboxHost, OutboxSchedule } from "./outbox-host";
import { MirrorFlush } from "./room-mirror-flush";
import { NotifyHandOver } from "./room-notify";
import { OutboundEventsJob } from "./room-outbound";

/** An upload never sent in a message is deleted after this long. */
export const ORPHAN_AFTER_MS = 24 * 3600_000;
const EFFECTS_PER_RUN = 100;

/**
 * The side-effect pipeline of one conversation: one loop, run by the object's alarm, drains every
 * effect with one retry policy: the D1 mirror (room-mirror-flush.ts), the outbound CRM events
 * (room-outbound.ts), and the durable effects of the outbox (R2 deletes, CRM events). Presence
 * hand-overs (room-notify.ts) run beside it on a short timer, since notify latency is what people
 * feel; a failed hand-over falls back to the alarm, and the alarm's run waits for the one under way.
 * Every effect is idempotent, so a retry after a crash between effect and bookkeeping is harmless.
 */
export class RoomOutbox implements OutboxSchedule {
  private armedAt: number | undefined;
  private readonly mirror: MirrorFlush;
  private readonly notify: NotifyHandOver;
  private readonly outbound: OutboundEventsJob;

  constructor(private readonly host: OutboxHost) {
    this.mirror = new MirrorFlush(host);
    this.notify = new NotifyHandOver(host, this);
    this.outbound = new OutboundEventsJob(host);
  }

  private get store() {
    return this.host.store;
  }

  /** After a change on the WebSocket path: notify now, everything else on the alarm's cadence. */
  changed(): void {
    this.notify.kick();
    this.schedule(this.mirrorDelay());
  }

  /**
   * HTTP callers get read-your-writes on the D1 listing: the flush runs before the response. A
   * failed flush does not fail the request (the change is durable); the alarm retries it.
   */
  async changedNow(): Promise<void> {
    this.notify.kick();
    try {
      await this.mirror.run();
    } catch (err) {
      console.error("mirror flush failed; the alarm retries it", err);
    }
    this.schedule(this.mirrorDelay());
  }

  mirrorDelay(): number {
    return this.mirror.delay();
  }

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
    if (!this.store.header.get()) return;
    const now = Date.now();
    this.mirror.reportDue(this.host.now());
    await this.notify.now();
    this.store.header.persistNotified();
    this.sweepOrphans(now);
    let endpoints: EndpointRow[] | undefined;
    let retryAt: number | undefined;
    try {
      endpoints = await this.mirror.run();
    } catch (err) {
      const attempts = this.store.header.mirrorFailed();
      retryAt = now + retryDelay(attempts);
      console.error(`mirror flush failed (attempt ${attempts}); retrying`, err);
    }
    try {
      await this.runEffects(now, endpoints);
    } catch (err) {
      console.error("side effects failed; retrying", err);
    }
    try {
      await this.outbound.drainMessages(endpoints);
    } catch (err) {
      retryAt = Math.min(retryAt ?? Infinity, now + retryDelay(1));
      console.error("message.created events failed; retrying", err);
    }
    await this.rearm(retryAt);
  }

  /** Is the log ahead of a watermark (mirror, events, notify)? */
  private behind(): boolean {
    const room = this.store.header.get();
    if (!room) return false;
    return room.mirroredVersion < room.version || room.mirroredSeq < room.lastSeq || room.outboundSeq < room.lastSeq || room.notifiedSeq < room.lastSeq;
  }

  private pendingWork(): boolean {
    return this.behind() || this.store.header.notifiedDirty() || this.store.effects.nextDue() !== undefined;
  }

  /** Set the alarm for the earliest of: pending mirror or events, the next effect, the next orphan. */
  private async rearm(retryAt: number | undefined): Promise<void> {
    const times: number[] = [];
    if (retryAt !== undefined) times.push(retryAt);
    else if (this.behind()) times.push(Date.now() + this.mirrorDelay());
    const effect = this.store.effects.nextDue();
    if (effect !== undefined) times.push(effect);
    const oldest = this.store.attachments.oldestUnsent();
    if (oldest !== undefined) times.push(oldest + ORPHAN_AFTER_MS + 1_000);
    const report = this.mirror.reportDueAt();
    if (report !== undefined) times.push(report);
    if (times.length === 0) return;
    const at = Math.max(Math.min(...times), Date.now());
    this.armedAt = at;
    await this.host.storage.setAlarm(at);
  }

  /** Make sure the alarm runs when the oldest unsent upload becomes an orphan. */
  async armOrphanSweep(): Promise<void> {
    const oldest = this.store.attachments.oldestUnsent();
    if (oldest === undefined) return;
    const due = oldest + ORPHAN_AFTER_MS + 1_000;
    const current = await this.host.storage.getAlarm();
    if (current === null || current > due) {
      this.armedAt = due;
      await this.host.storage.setAlarm(due);
    }
  }

  /** Uploads never sent within ORPHAN_AFTER_MS become file deletions in the outbox. */
  private sweepOrphans(now: number): void {
    const oldest = this.store.attachments.oldestUnsent();
    if (oldest === undefined || oldest >= now - ORPHAN_AFTER_MS) return;
    for (const id of this.store.attachments.orphans(now - ORPHAN_AFTER_MS)) this.store.attachments.discard(id, now);
  }

  /** The outbox's due effects: R2 deletes (giving the bytes back to the tenant's usage) and CRM events. */
  private async runEffects(now: number, endpoints: EndpointRow[] | undefined): Promise<void> {
    const due = this.store.effects.due(now, EFFECTS_PER_RUN);
    if (due.length === 0) return;
    const room = this.store.header.require();
    const files: { id: string; size: number }[] = [];
    for (const e of due) if (e.effect.kind === "file.delete") files.push({ id: e.effect.attachmentId, size: e.effect.size ?? 0 });
    await Promise.all([
      this.settle(
        due.filter((e) => e.effect.kind === "file.delete"),
        async () => {
          await this.host.files().delete(files.map((f) => attachmentKey(room.tenantId, room.conversationId, f.id)));
          const freed = files.reduce((sum, f) => sum + f.size, 0);
          if (freed > 0) await adjustLevel(tenantDb(this.host.env, room.tenantId), room.tenantId, "attachment_bytes_stored", -freed);
        },
      ),
      this.settle(
        due.filter((e) => e.effect.kind === "outbound"),
        (events) => this.outbound.deliverEffects(room, events, endpoints),
      ),
    ]);
  }

  /** Run one group of effects; on success they leave the outbox, on failure they wait by the retry policy. */
  private async settle(effects: StoredEffect[], run: (effects: StoredEffect[]) => Promise<void>): Promise<void> {
    if (effects.length === 0) return;
    try {
      await run(effects);
      this.store.effects.done(effects.map((e) => e.id));
    } catch (err) {
      this.store.effects.failed(effects, Date.now());
      console.error(`${effects.length} side effects failed; retrying by the policy`, err);
    }
  }
}
