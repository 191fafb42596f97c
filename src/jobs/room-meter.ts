import type { Failure } from "../domain/result";
import { dayOf } from "../storage/usage";

/**
 * A conversation's share of its tenant's usage, and the tenant's messages-per-day quota as this
 * conversation last saw it. Both ride on the mirror flush's D1 batch: the flush adds the messages it
 * carries and the deliveries counted since the previous flush to today's counters, and reads the
 * quota and today's total back, so metering costs no round trip of its own. The quota is therefore
 * enforced within one flush (≤ 1 s) of the truth per conversation; across many busy conversations a
 * tenant can go over by what they send in that second. No retried message is ever refused by it.
 */
export class RoomMeter {
  private deliveries = 0;
  private quota: { limit: number | null; used: number } | undefined;

  /** Count message frames handed to sockets. */
  delivered(n: number): void {
    this.deliveries += n;
  }

  /** The refusal for a new message when today's quota is used up, counting what is not mirrored yet. */
  refusal(unmirrored: number): Failure | undefined {
    const q = this.quota;
    if (!q || q.limit === null || q.used + unmirrored < q.limit) return undefined;
    return { ok: false, code: "quota_exceeded", message: `quota messagesPerDay: this tenant may store ${q.limit} messages a day` };
  }

  /**
   * The statements to add to a flush: today's counters, then the quota read. `settle` takes the batch's
   * results for those statements (in order) once the batch succeeded.
   */
  statements(db: D1Database, tenantId: string, now: number, newMessages: number): { statements: D1PreparedStatement[]; settle: (results: D1Result[]) => void } {
    const day = dayOf(now);
    const deliveries = this.deliveries;
    const add = (metric: string, n: number) =>
      db
        .prepare(
          `INSERT INTO usage_daily (tenant_id, day, metric, value) VALUES (?1, ?2, ?3, ?4)
           ON CONFLICT (tenant_id, day, metric) DO UPDATE SET value = value + excluded.value`,
        )
        .bind(tenantId, day, metric, n);
    const statements: D1PreparedStatement[] = [];
    if (newMessages > 0) statements.push(add("messages", newMessages));
    if (deliveries > 0) statements.push(add("deliveries", deliveries));
    statements.push(
      db
        .prepare(
          `SELECT q.messages_per_day AS lim,
                  (SELECT value FROM usage_daily WHERE tenant_id = ?1 AND day = ?2 AND metric = 'messages') AS used
           FROM (SELECT ?1 AS tenant_id) t LEFT JOIN tenant_quotas q ON q.tenant_id = t.tenant_id`,
        )
        .bind(tenantId, day),
    );
    return {
      statements,
      settle: (results) => {
        this.deliveries -= deliveries;
        const row: unknown = results.at(-1)?.results?.[0];
        const limit = typeof row === "object" && row !== null && "lim" in row ? row.lim : null;
        const used = typeof row === "object" && row !== null && "used" in row ? row.used : null;
        this.quota = { limit: typeof limit === "number" ? limit : null, used: typeof used === "number" ? used : 0 };
      },
    };
  }
}
