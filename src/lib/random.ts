/** Random ids, tokens, secrets and nonces, from the runtime's CSPRNG. */

import { toHex } from "./encoding";

/** `byteLength` random bytes. */
export function randomBytes(byteLength: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(byteLength));
}

/** `byteLength` random bytes as lower-case hex (twice as many digits): ids, URL tokens, secrets. */
export function randomHex(byteLength: number): string {
  return toHex(randomBytes(byteLength));
}
