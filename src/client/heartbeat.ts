/** Pings that tell a live socket from a dead one: a dropped link often closes nothing and says nothing. */
import type { Clock } from "./clock.ts";

/** A ping every interval; a socket that stayed silent (not even a pong) for a whole interval is given up. */
export class Heartbeat {
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private timer: unknown;
  private heard = true;

  /** `intervalMs` 0 (or less) disables the heartbeat. */
  constructor(clock: Clock, intervalMs: number) {
    this.clock = clock;
    this.intervalMs = intervalMs;
  }

  /** Something arrived on the socket. */
  heardFrom(): void {
    this.heard = true;
  }

  /** Start beating for a socket that just became ready. `silent` runs, instead of a ping, once it went quiet. */
  start(ping: () => void, silent: () => void): void {
    this.stop();
    this.heard = true;
    if (this.intervalMs <= 0) return;
    const tick = () => {
      this.timer = undefined;
      if (!this.heard) {
        silent();
        return;
      }
      this.heard = false;
      ping();
      this.timer = this.clock.setTimeout(tick, this.intervalMs);
    };
    this.timer = this.clock.setTimeout(tick, this.intervalMs);
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
