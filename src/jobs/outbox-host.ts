import type { RoomStorage } from "../storage/room-store";
import type { RoomMeter } from "./room-meter";

/** What a conversation's side-effect pipeline needs from its Durable Object. */
export interface OutboxHost {
  readonly env: Env;
  readonly storage: DurableObjectStorage;
  readonly store: RoomStorage;
  /** The attachment bucket (deletes only). */
  files(): Pick<R2Bucket, "delete">;
  /** User ids with an open socket on this conversation (they are reading it: no push for them). */
  liveUsers(): Set<string>;
  /** Usage counters and the messages quota, carried by the mirror flush. */
  readonly meter: RoomMeter;
  /** The object's clock (tests move it by hand). */
  now(): number;
}

/** How a part of the pipeline asks the loop for another run. */
export interface OutboxSchedule {
  /** Arm the alarm `delayMs` from now unless it already fires sooner. */
  schedule(delayMs: number): void;
  /** The mirror's current cadence. */
  mirrorDelay(): number;
}
