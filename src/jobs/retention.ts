import { conversationsActiveBefore, purgeHistory, tenantsWithRetention } from "../storage/retention";
import { tenantDb } from "../storage/shards";
import { roomStub } from "../objects";

const DAY_MS = 86_400_000;
/** Per run and tenant: D1 delete rounds (of 5,000 rows) and conversation objects visited. */
const MAX_DELETE_ROUNDS = 20;
const MAX_CONVERSATIONS = 2_000;

export interface RetentionReport {
  tenantId: string;
  cutoff: number;
  historyRowsDeleted: number;
  conversationsPurged: number;
  objectMessagesDeleted: number;
}

/**
 * The retention job (cron): for every tenant with a retention period, delete older messages from the
 * D1 history (and so from search) and from each conversation object's log. Bounded per run; what is
 * left is picked up by the next run. Idempotent: deleting what is already gone changes nothing.
 */
export async function runRetention(env: Env, now: number): Promise<RetentionReport[]> {
  const reports: RetentionReport[] = [];
  for (const policy of await tenantsWithRetention(env.DB)) {
    const cutoff = now - policy.retentionDays * DAY_MS;
    const db = tenantDb(env, policy.tenantId);
    let historyRowsDeleted = 0;
    for (let round = 0; round < MAX_DELETE_ROUNDS; round++) {
      const deleted = await purgeHistory(db, policy.tenantId, cutoff);
      historyRowsDeleted += deleted;
      if (deleted < 5_000) break;
    }
    let conversationsPurged = 0;
    let objectMessagesDeleted = 0;
    let afterId = "";
    while (conversationsPurged < MAX_CONVERSATIONS) {
      const ids = await conversationsActiveBefore(db, policy.tenantId, cutoff, afterId, 100);
      if (ids.length === 0) break;
      const counts = await Promise.all(ids.map((id) => roomStub(env, policy.tenantId, id).purgeBefore(policy.tenantId, cutoff)));
      objectMessagesDeleted += counts.reduce((a, b) => a + b, 0);
      conversationsPurged += ids.length;
      afterId = ids.at(-1)!;
    }
    reports.push({ tenantId: policy.tenantId, cutoff, historyRowsDeleted, conversationsPurged, objectMessagesDeleted });
  }
  return reports;
}
