import type { JsonObject } from "../protocol/frames";
import { isJsonObject } from "../protocol/json";
import type { OutboundEvents } from "../domain/store";
import type { OutboundEventType } from "./endpoints";

/**
 * The conversation's durable outbox of side effects that are not a copy of the log: deleting an
 * attachment's bytes in R2 and handing a CRM event to the outbound queue. A row is written by the
 * same synchronous store call as the change that causes it (so in the same transaction: no change
 * without its effect, no effect without its change), and deleted only after the effect succeeded.
 * Every row has a unique key, which makes enqueueing idempotent and lets the effect itself be.
 *
 * Effects that follow the log one message at a time (the D1 history, presence hand-overs,
 * message.created events) are kept as a seq watermark per effect instead of a row per message: on
 * an append-only log "every seq above the watermark" is the same outbox at a fraction of the writes.
 */
export type Effect =
  | { kind: "file.delete"; attachmentId: string; /** Bytes, to give back to the tenant's storage usage. */ size?: number }
  | { kind: "outbound"; type: Exclude<OutboundEventType, "message.created">; payload: JsonObject; createdAt: number };

export interface StoredEffect {
  id: number;
  key: string;
  attempts: number;
  effect: Effect;
}

/** SQL of the room's schema migration that adds the outbox (and moves the older outbound rows into it). */
export const EFFECTS_MIGRATION_SQL = `
  CREATE TABLE effects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    effect TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX effects_due ON effects (due_at);
  INSERT INTO effects (key, effect)
    SELECT 'e' || id, json_object('kind', 'outbound', 'type', type, 'payload', json(payload), 'createdAt', created_at) FROM outbound ORDER BY id;
  DROP TABLE outbound;`;

/** One retry policy for every side effect: exponential from 1 s, at most 5 minutes apart. */
export const EFFECT_RETRY_BASE_MS = 1_000;
export const EFFECT_RETRY_MAX_MS = 5 * 60_000;

export function retryDelay(attempts: number): number {
  return Math.min(EFFECT_RETRY_BASE_MS * 2 ** Math.max(0, attempts - 1), EFFECT_RETRY_MAX_MS);
}

export class EffectOutbox implements OutboundEvents {
  /**
   * When the next effect is due, kept in memory: the outbox is asked on every change (is there work
   * for the alarm?), and it is empty nearly always. `null` means not known yet (read on first use).
   * Only this class writes the table, so every write updates or forgets it.
   */
  private next: number | undefined | null = null;

  constructor(private readonly sql: SqlStorage) {}

  /** Record an effect; a second effect with the same key is the same effect and is ignored. */
  add(key: string, effect: Effect, now: number): void {
    this.sql.exec(`INSERT INTO effects (key, effect, due_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING`, key, JSON.stringify(effect), now);
    if (this.next !== null) this.next = this.next === undefined ? now : Math.min(this.next, now);
  }

  /** Record an event for the tenant's outbound CRM webhooks (the outbox hands it to the queue). */
  enqueue(type: "card.action" | "approval.decided", payload: JsonObject, now: number): void {
    this.add(`e${crypto.randomUUID()}`, { kind: "outbound", type, payload, createdAt: now }, now);
  }

  /** Effects whose time has come, oldest first. */
  due(now: number, limit: number): StoredEffect[] {
    const next = this.nextDue();
    if (next === undefined || next > now) return [];
    const rows = this.sql
      .exec<{ id: number; key: string; attempts: number; effect: string }>(
        `SELECT id, key, attempts, effect FROM effects WHERE due_at <= ? ORDER BY id LIMIT ?`,
        now,
        limit,
      )
      .toArray();
    // A write rolled back with its transaction can leave the memory ahead of the table: read it again.
    if (rows.length === 0) this.next = null;
    return rows.map((r) => ({ id: r.id, key: r.key, attempts: r.attempts, effect: effectOf(r.effect, r.key) }));
  }

  done(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.sql.exec(`DELETE FROM effects WHERE id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids));
    this.next = null;
  }

  /** Count a failure and push the effects back by the retry policy. */
  failed(effects: readonly StoredEffect[], now: number): void {
    for (const e of effects) this.sql.exec(`UPDATE effects SET attempts = ?, due_at = ? WHERE id = ?`, e.attempts + 1, now + retryDelay(e.attempts + 1), e.id);
    if (effects.length > 0) this.next = null;
  }

  /** Make every waiting effect due at `at` (retry now, instead of at its backoff time). */
  retryAllAt(at: number): void {
    this.sql.exec(`UPDATE effects SET due_at = ?`, at);
    this.next = null;
  }

  /** When the next effect is due, if any. */
  nextDue(): number | undefined {
    if (this.next === null) this.next = this.sql.exec<{ t: number | null }>(`SELECT min(due_at) AS t FROM effects`).one().t ?? undefined;
    return this.next;
  }

  pending(): number {
    return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM effects`).one().n;
  }
}

/** An effect row as written by `add`; a row that is not one is a broken invariant. */
function effectOf(text: string, key: string): Effect {
  const e: unknown = JSON.parse(text);
  if (isJsonObject(e)) {
    if (e.kind === "file.delete" && typeof e.attachmentId === "string") {
      return typeof e.size === "number" ? { kind: "file.delete", attachmentId: e.attachmentId, size: e.size } : { kind: "file.delete", attachmentId: e.attachmentId };
    }
    const { type, payload, createdAt } = e;
    if (e.kind === "outbound" && (type === "card.action" || type === "approval.decided") && isJsonObject(payload) && typeof createdAt === "number") {
      return { kind: "outbound", type, payload, createdAt };
    }
  }
  throw new Error(`effect ${key} is not an effect this version knows`);
}
