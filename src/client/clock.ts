/**
 * Time as the client SDK sees it: reconnect backoff, rate-limit pacing, pings and the typing throttle all
 * go through one of these, so an application (or a test) can drive them without waiting on the wall clock.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** A timer of the real clock: the runtime's own handle (a number in browsers, an object in Node). */
class SystemTimer {
  readonly native: ReturnType<typeof setTimeout>;
  constructor(native: ReturnType<typeof setTimeout>) {
    this.native = native;
  }
}

/** The real clock. */
export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => new SystemTimer(setTimeout(callback, ms)),
  clearTimeout: (handle) => {
    if (handle instanceof SystemTimer) clearTimeout(handle.native);
  },
};

/**
 * A clock that moves only when told to. `advance(ms)` runs every timer that falls due, earliest first, each
 * at its own due time, letting promise callbacks settle between them.
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): number {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === "number") this.timers.delete(handle);
  }

  /** Timers scheduled and not yet run or cancelled. */
  get pending(): number {
    return this.timers.size;
  }

  /** When the next timer falls due, if any. */
  get nextDue(): number | undefined {
    let next: number | undefined;
    for (const t of this.timers.values()) if (next === undefined || t.at < next) next = t.at;
    return next;
  }

  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      let dueId: number | undefined;
      let due: { at: number; callback: () => void } | undefined;
      for (const [id, t] of this.timers) {
        if (t.at <= target && (due === undefined || t.at < due.at)) {
          dueId = id;
          due = t;
        }
      }
      if (dueId === undefined || !due) break;
      this.timers.delete(dueId);
      this.current = due.at;
      due.callback();
      await settle();
    }
    this.current = target;
    await settle();
  }
}

/** Let queued promise callbacks run (a few turns, since one callback often schedules the next). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
