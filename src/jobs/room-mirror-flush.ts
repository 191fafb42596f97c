import { mirrorStatements } from "../storage/conversations";
import { endpointsQuery, type EndpointRow } from "../storage/endpoints";
import { tenantDb } from "../storage/shards";
import { logLine } from "../log";
import type { OutboxHost } from "./outbox-host";

/** Delay between a change and its D1 mirror flush while a conversation is quiet. */
export const MIRROR_DELAY_MS = 200;
/** Under load the delay grows with the rows each flush carries, up to this (search stays within ~2 s of live). */
export const MIRROR_DELAY_MAX_MS = 1_000;
/** A conversation writes at most FLUSH_LINES `mirror.flush` lines per FLUSH_LOG_WINDOW_MS; further flushes are folded into the next line. */
export const FLUSH_LINES = 3;
export const FLUSH_LOG_WINDOW_MS = 60_000;

/**
 * The D1 mirror of one conversation (history, search, conversation and member rows): each flush is one
 * `batch()` of what changed since the last (storage/room-mirror.ts builds it), and flushes run one
 * after another, never side by side.
 */
export class MirrorFlush {
  private tail: Promise<unknown> | undefined;
  private lastRows = 0;
  /** Flushes not yet in a log line, and the lines written in the current window. */
  private folded = { flushes: 0, rows: 0, lagMs: 0, tenantId: "", conversationId: "" };
  private window = { since: 0, lines: 0 };

  constructor(private readonly host: OutboxHost) {}

  /** The growing delay: quiet conversations flush fast, busy ones carry more rows per flush. */
  delay(): number {
    return Math.min(MIRROR_DELAY_MAX_MS, MIRROR_DELAY_MS * Math.max(1, this.lastRows));
  }

  /**
   * Copy what changed to D1. When outbound events are pending, the tenant's endpoints are read in the
   * same batch (no extra round trip) and returned.
   */
  run(): Promise<EndpointRow[] | undefined> {
    const run = () => this.flush();
    const next = (this.tail ?? Promise.resolve()).then(run, run);
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async flush(): Promise<EndpointRow[] | undefined> {
    const { store, env, meter } = this.host;
    const room = store.header.get();
    if (!room) return undefined;
    const snapshot = store.mirror.snapshot();
    if (!snapshot) {
      this.lastRows = 0;
      return undefined;
    }
    const db = tenantDb(env, snapshot.tenantId);
    // Endpoints and quotas live in the primary database: they ride along only when it is the tenant's.
    const primary = db === env.DB;
    const wantEndpoints = primary && (room.outboundSeq < room.lastSeq || store.effects.nextDue() !== undefined);
    const now = this.host.now();
    const fresh = snapshot.history.filter((r) => r.seq > room.mirroredSeq);
    const statements = mirrorStatements(db, snapshot);
    const mirrored = statements.length;
    const metered = primary ? meter.statements(db, snapshot.tenantId, now, fresh.filter((r) => r.kind !== "system").length) : undefined;
    if (metered) statements.push(...metered.statements);
    if (wantEndpoints) statements.push(endpointsQuery(db, snapshot.tenantId));
    const results = await db.batch(statements);
    store.mirror.markMirrored(snapshot.version, snapshot.historyThrough, snapshot.revised);
    metered?.settle(results.slice(mirrored, mirrored + metered.statements.length));
    this.lastRows = snapshot.history.length;
    this.report(snapshot.tenantId, snapshot.conversationId, snapshot.history.length, fresh[0] ? now - fresh[0].ts : 0, now);
    return wantEndpoints ? endpointsQuery.rows(results.at(-1)) : undefined;
  }

  /**
   * The reporting log's line for a flush: its rows and the lag of its oldest new message. A quiet
   * conversation writes one per flush; a busy one at most FLUSH_LINES per FLUSH_LOG_WINDOW_MS, the
   * flushes beyond them folded into the next line (`flushes` counts them), which the first flush of the
   * next window writes, or the alarm (`reportDueAt`) if no flush comes.
   */
  private report(tenantId: string, conversationId: string, rows: number, lagMs: number, now: number): void {
    const f = this.folded;
    f.flushes += 1;
    f.rows += rows;
    f.lagMs = Math.max(f.lagMs, lagMs);
    f.tenantId = tenantId;
    f.conversationId = conversationId;
    this.reportDue(now);
  }

  /** Write the folded line if the window allows one. */
  reportDue(now: number): void {
    if (now - this.window.since >= FLUSH_LOG_WINDOW_MS) this.window = { since: now, lines: 0 };
    const f = this.folded;
    if (f.flushes === 0 || this.window.lines >= FLUSH_LINES) return;
    logLine("mirror.flush", { tenantId: f.tenantId, conversationId: f.conversationId, rows: f.rows, lagMs: f.lagMs, ...(f.flushes > 1 ? { flushes: f.flushes } : {}) }, now);
    this.window.lines += 1;
    this.folded = { flushes: 0, rows: 0, lagMs: 0, tenantId: "", conversationId: "" };
  }

  /** When the folded line is due, if flushes wait in it. */
  reportDueAt(): number | undefined {
    return this.folded.flushes > 0 ? this.window.since + FLUSH_LOG_WINDOW_MS : undefined;
  }
}
