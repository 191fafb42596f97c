import type { Failure } from "../domain/result";
import { messagesQuotaStatement, usageBatchStatements } from "../storage/usage";

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
    const deliveries = this.deliveries;
    const statements = usageBatchStatements(db, tenantId, now, { messages: newMessages, deliveries });
    statements.push(messagesQuotaStatement(db, tenantId, now));
    return {
      statements,
      settle: (results) => {
        this.deliveries -= deliveries;
        this.quota = messagesQuotaStatement.row(results.at(-1));
      },
    };
  }
}
