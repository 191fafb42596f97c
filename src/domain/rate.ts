/** Where the objects read the time: tests hand in a clock they move themselves, so no limit depends on how fast the machine is. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A token bucket: `burst` tokens, refilled at `perSecond`. Time is passed in so tests stay exact. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.updatedAt) / 1000;
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.perSecond);
    this.updatedAt = Math.max(this.updatedAt, now);
  }

  /** Milliseconds until a token is available (0 when one is). */
  waitMs(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }

  /** True when the bucket is back to its full burst (forgetting it changes nothing). */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  /** Take one token; when none is left, say how long until one is. */
  take(now: number): { ok: true } | { ok: false; retryAfterMs: number } {
    const wait = this.waitMs(now);
    if (wait > 0) return { ok: false, retryAfterMs: wait };
    this.tokens -= 1;
    return { ok: true };
  }
}

/**
 * Token buckets keyed by a value a client may choose (a device id), at most `max` of them: when a new
 * key would pass the bound, full buckets are forgotten first (a new bucket is full, so nothing
 * changes), then the least recently used.
 */
export class BucketMap {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly max: number,
    private readonly burst: number,
    private readonly perSecond: number,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  get(key: string, now: number): TokenBucket {
    let bucket = this.buckets.get(key);
    if (bucket) {
      // Re-insert: Map order is then least recently used first.
      this.buckets.delete(key);
      this.buckets.set(key, bucket);
      return bucket;
    }
    if (this.buckets.size >= this.max) this.evict(now);
    bucket = new TokenBucket(this.burst, this.perSecond, now);
    this.buckets.set(key, bucket);
    return bucket;
  }

  private evict(now: number): void {
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
    while (this.buckets.size >= this.max) {
      const oldest = this.buckets.keys().next().value;
      if (oldest === undefined) return;
      this.buckets.delete(oldest);
    }
  }
}
