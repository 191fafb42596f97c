/** SHA-256 and HMAC-SHA256 on Web Crypto, and comparison that does not reveal where two values differ. */

import { toHex, utf8 } from "./encoding";

/** Strings are taken as their UTF-8 bytes. */
type Input = Uint8Array | string;

/** A copy backed by its own ArrayBuffer, the form Web Crypto takes (a view may share a larger buffer). */
function bytesOf(input: Input): Uint8Array<ArrayBuffer> {
  return typeof input === "string" ? utf8(input) : new Uint8Array(input);
}

/** SHA-256. */
export async function sha256(data: Input): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytesOf(data)));
}

/** Hex SHA-256: how api keys and URL tokens are stored and looked up, and the source of derived ids. */
export async function sha256Hex(data: Input): Promise<string> {
  return toHex(await sha256(data));
}

/** HMAC-SHA256. */
export async function hmacSha256(key: Input, data: Input): Promise<Uint8Array<ArrayBuffer>> {
  const cryptoKey = await crypto.subtle.importKey("raw", bytesOf(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, bytesOf(data)));
}

/**
 * Constant-time equality of two byte strings (lengths are not secret). workerd's `timingSafeEqual`
 * throws on a length mismatch, hence the check first.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && crypto.subtle.timingSafeEqual(a, b);
}
