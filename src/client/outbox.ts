/**
 * The sends of a conversation client that the server has not answered yet. Each is kept until its ack
 * (or an error frame) and written again, same clientId and original order, on every new connection, so
 * the server stores it once however often the link drops.
 */
import type { Message, ServerFrame } from "../protocol/frames";
import type { Clock } from "./clock.ts";
import type { Ack } from "./types.ts";
import { SwitchboardError } from "./errors.ts";

interface Pending {
  clientId: string;
  frame: string;
  resolve: (ack: Ack) => void;
  reject: (error: SwitchboardError) => void;
  /** Whether it has been written to a connection at least once. */
  sent: boolean;
  /** Held back while the server is rate limiting this device; sent one at a time by the pacer. */
  held: boolean;
}

/** What the outbox needs from the client that owns it. */
export interface OutboxLink {
  /** Write to the open connection; false when none is open (or it is closing). */
  write(frame: string): boolean;
  /** Whether a connection is open (its `ready` arrived). */
  isOpen(): boolean;
  /** The wait before the `attempt`-th retry of a rate-limited send. */
  delay(attempt: number): number;
  clock: Clock;
}

/**
 * Pending sends, in order. Rate limiting: after a `rate_limited` answer the outbox stops pipelining. Held
 * frames go out one at a time, in original order, each after the previous one is answered; another
 * `rate_limited` waits a backoff first.
 */
export class Outbox {
  private readonly link: OutboxLink;
  private readonly pending = new Map<string, Pending>();
  private throttled = false;
  private pacing: Pending | undefined;
  private paceTimer: unknown;
  private rateLimitStreak = 0;

  constructor(link: OutboxLink) {
    this.link = link;
  }

  get size(): number {
    return this.pending.size;
  }

  has(clientId: string): boolean {
    return this.pending.has(clientId);
  }

  /** Keep a send until it is answered; write it now unless no connection is open or the server is pushing back. */
  add(clientId: string, frame: string): Promise<Ack> {
    return new Promise<Ack>((resolve, reject) => {
      const entry: Pending = { clientId, frame, resolve, reject, sent: false, held: false };
      this.pending.set(clientId, entry);
      if (this.throttled) entry.held = true; // wait behind the frames the server pushed back, keeping order
      else this.transmit(entry);
    });
  }

  /** A connection is ready: write every unacknowledged frame again, in original order, with its original clientId. */
  resend(): void {
    this.stopPacing();
    for (const p of this.pending.values()) {
      p.held = false;
      this.transmit(p);
    }
  }

  /** Settle the send an ack answers, if it is pending. */
  acked(ack: Ack): void {
    const entry = this.pending.get(ack.clientId);
    if (entry) this.settle(entry, ack);
  }

  /** The message itself proves a pending send was stored, should its ack have been lost. */
  delivered(message: Message): void {
    const mine = this.pending.get(message.clientId);
    if (mine && mine.sent) this.settle(mine, { clientId: message.clientId, seq: message.seq, ts: message.ts });
  }

  /**
   * An error frame: a pending send it names is rejected, or held and retried later when it is `rate_limited`.
   * Returns false when it names no pending send (the client reports it instead).
   */
  refused(frame: Extract<ServerFrame, { type: "error" }>): boolean {
    const entry = frame.clientId === undefined ? undefined : this.pending.get(frame.clientId);
    if (!entry) return false;
    if (frame.code === "rate_limited") {
      entry.held = true;
      this.throttled = true;
      if (this.pacing === entry) this.pacing = undefined;
      if (this.pacing === undefined && this.paceTimer === undefined) {
        const hinted = "retryAfterMs" in frame ? frame.retryAfterMs : undefined;
        const wait = Math.max(typeof hinted === "number" && hinted > 0 ? hinted : 0, this.link.delay(this.rateLimitStreak++));
        this.paceTimer = this.link.clock.setTimeout(() => {
          this.paceTimer = undefined;
          this.paceNext(false);
        }, wait);
      }
      return true;
    }
    this.pending.delete(entry.clientId);
    entry.reject(new SwitchboardError(frame.code, frame.message, { clientId: entry.clientId }));
    if (this.pacing === entry) this.paceNext(true);
    return true;
  }

  /** Stop pacing (the connection is gone); the next ready re-sends everything. */
  stopPacing(): void {
    if (this.paceTimer !== undefined) this.link.clock.clearTimeout(this.paceTimer);
    this.paceTimer = undefined;
    this.pacing = undefined;
    this.throttled = false;
  }

  /** Reject every pending send with a copy of `error` naming its clientId, and forget them. */
  rejectAll(error: SwitchboardError): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      p.reject(new SwitchboardError(error.code, error.message, { clientId: p.clientId, status: error.status, closeCode: error.closeCode, fatal: error.fatal }));
    }
  }

  private settle(entry: Pending, ack: Ack): void {
    this.pending.delete(entry.clientId);
    entry.resolve(ack);
    if (this.pacing === entry) this.paceNext(true);
  }

  /** Send the first held frame; when none is left, pipelining resumes. */
  private paceNext(answered: boolean): void {
    this.pacing = undefined;
    if (answered) this.rateLimitStreak = 0;
    if (!this.link.isOpen() || this.paceTimer !== undefined) return; // the next ready re-sends everything
    let next: Pending | undefined;
    for (const p of this.pending.values()) {
      if (p.held) {
        next = p;
        break;
      }
    }
    if (!next) {
      this.throttled = false;
      return;
    }
    next.held = false;
    this.pacing = next;
    this.transmit(next);
  }

  private transmit(entry: Pending): void {
    if (this.link.write(entry.frame)) entry.sent = true;
  }
}
