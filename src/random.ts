/** Random ids and tokens, from the runtime's CSPRNG. */

import { toHex } from "./encoding";

/** `byteLength` random bytes as lower-case hex (twice as many digits): ids, URL tokens, secrets. */
export function randomHex(byteLength: number): string {
  return toHex(crypto.getRandomValues(new Uint8Array(byteLength)));
}
