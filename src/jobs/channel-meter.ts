import type { Failure } from "../domain/result";
import { dayOf, quotasOf, recordSocketsPeak } from "../storage/usage";
import { tenantDb } from "../storage/shards";

/** How long a presence shard trusts the open-sockets quota it read. */
export const QUOTA_CACHE_MS = 60_000;
/** Shortest time between two writes of a new daily peak (a ramp-up writes a handful, not one per socket). */
const PEAK_WRITE_EVERY_MS = 10_000;

/**
 * Open device channels of one presence shard against the tenant's `openSockets` quota (split evenly over
 * the shards, since each shard sees only its own), and the shard's daily peak for usage. The tenant's
 * peak is the sum of its shards' peaks: an upper bound of the true simultaneous peak.
 */
export class ChannelMeter {
  private quota: { limit: number | null; readAt: number } | undefined;
  private peak = { day: "", value: 0, written: 0, writtenAt: 0 };

  /** The refusal for one more channel on this shard, reading the quota when the cached one is stale. */
  async refusal(env: Env, tenantId: string, shards: number, open: number, now: number): Promise<Failure | undefined> {
    if (!this.quota || now - this.quota.readAt > QUOTA_CACHE_MS) {
      const { openSockets } = await quotasOf(env.DB, tenantId);
      this.quota = { limit: openSockets, readAt: now };
    }
    const limit = this.quota.limit;
    if (limit === null || open < Math.ceil(limit / shards)) return undefined;
    return { ok: false, code: "quota_exceeded", message: `quota openSockets: this tenant may hold ${limit} open device channels` };
  }

  /** Note the shard's open channel count after a new one; writes a new daily peak now and then. */
  opened(env: Env, tenantId: string, shard: number, open: number, now: number): void {
    const day = dayOf(now);
    if (this.peak.day !== day) this.peak = { day, value: 0, written: 0, writtenAt: 0 };
    this.peak.value = Math.max(this.peak.value, open);
    if (this.peak.value <= this.peak.written || now - this.peak.writtenAt < PEAK_WRITE_EVERY_MS) return;
    const value = this.peak.value;
    this.peak.writtenAt = now;
    void recordSocketsPeak(tenantDb(env, tenantId), tenantId, shard, now, value)
      .then(() => {
        this.peak.written = Math.max(this.peak.written, value);
      })
      .catch((err: unknown) => console.error("could not record the sockets peak", err));
  }
}
