// Seeded randomness: every random choice of a chaos run comes from one seed, printed at the start, so
// CHAOS_SEED=<seed> replays the same plan (timing on a busy machine still varies, the choices do not).
import { randomInt } from "node:crypto";

/** A fresh seed: a positive 32-bit integer. */
export function freshSeed() {
  return randomInt(1, 2 ** 31);
}

/** Parse a seed given on the command line or in CHAOS_SEED; undefined when none was given. */
export function parseSeed(text) {
  if (text === undefined || text === "") return undefined;
  if (!/^\d{1,10}$/.test(text) || Number(text) < 1 || Number(text) >= 2 ** 32) {
    throw new Error(`seed must be an integer from 1 to ${2 ** 32 - 1}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** sfc32 seeded through splitmix32: small, fast, and good enough to drive a test plan. */
export class Rng {
  constructor(seed) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  /** A float in [0, 1). */
  next() {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min, max) {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p) {
    return this.next() < p;
  }

  pick(items) {
    return items[Math.floor(this.next() * items.length)];
  }

  /** An exponentially distributed delay with the given mean (a Poisson process's gaps), capped at 10 means. */
  exp(mean) {
    return Math.min(mean * 10, -Math.log(1 - this.next()) * mean);
  }

  /** A child generator: independent streams per client keep one client's choices from shifting another's. */
  fork() {
    return new Rng(this.int(1, 2 ** 32 - 1));
  }
}
