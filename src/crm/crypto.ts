/**
 * Helpers shared by the CRM ingress adapters: UTF-8 and base64, HMAC-SHA256 and SHA-256 on WebCrypto,
 * a synchronous SHA-256 for `parse()` (which the adapter interface keeps synchronous), constant-time
 * comparison, and the bounded-text and card checks every adapter applies to what it emits.
 */

import { CrmCardBody, describeIssue } from "../domain/kinds";
import { errorBody } from "../protocol/errors";
import type { CrmCard, RejectionStatus } from "./types";

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Bytes and encodings

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text) as Uint8Array<ArrayBuffer>;
}

/** Decode UTF-8; invalid sequences become U+FFFD (never throws). */
export function utf8Decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** Concatenate byte arrays (signatures cover the raw body bytes, never a re-encoded string). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Standard base64 with padding (RFC 4648 §4), the alphabet Standard Webhooks and HubSpot v3 use. */
export function base64Encode(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Decode base64; the URL-safe alphabet and missing padding are tolerated (secrets get pasted from
 * many places). Undefined when the text is not base64. Never throws.
 */
export function base64Decode(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) return undefined;
  const unpadded = text.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  if (unpadded.length % 4 === 1) return undefined;
  try {
    const binary = atob(unpadded + "=".repeat((4 - (unpadded.length % 4)) % 4));
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

/** Lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Digests and MACs

/** HMAC-SHA256 (WebCrypto). */
export async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const cryptoKey = await crypto.subtle.importKey("raw", new Uint8Array(key), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, new Uint8Array(data)));
}

/** SHA-256 (WebCrypto). */
export async function sha256(data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(data)));
}

// FIPS 180-4 §4.2.2 and §5.3.3.
const K = Uint32Array.of(
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
);
type Words8 = [number, number, number, number, number, number, number, number];
const H0: Readonly<Words8> = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));

/**
 * SHA-256 computed synchronously in JS. Only for dedupe keys inside `parse()`, which the adapter
 * interface keeps synchronous; verification always uses WebCrypto.
 */
export function sha256Sync(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const padded = new Uint8Array(Math.ceil((data.length + 9) / 64) * 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  // The message length in bits as a 64-bit big-endian integer.
  view.setUint32(padded.length - 8, Math.floor(data.length / 0x20000000));
  view.setUint32(padded.length - 4, (data.length << 3) >>> 0);

  let [h0, h1, h2, h3, h4, h5, h6, h7] = H0;
  const w = new Uint32Array(64);
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4);
    for (let i = 16; i < 64; i++) {
      const w15 = w[i - 15] as number;
      const w2 = w[i - 2] as number;
      const s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3);
      const s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10);
      w[i] = ((w[i - 16] as number) + s0 + (w[i - 7] as number) + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, h] = [h0, h1, h2, h3, h4, h5, h6, h7];
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + (K[i] as number) + (w[i] as number)) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h0 = (h0 + a) >>> 0;
    h1 = (h1 + b) >>> 0;
    h2 = (h2 + c) >>> 0;
    h3 = (h3 + d) >>> 0;
    h4 = (h4 + e) >>> 0;
    h5 = (h5 + f) >>> 0;
    h6 = (h6 + g) >>> 0;
    h7 = (h7 + h) >>> 0;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  [h0, h1, h2, h3, h4, h5, h6, h7].forEach((word, i) => outView.setUint32(i * 4, word));
  return out;
}

/**
 * Constant-time equality of two byte strings (lengths are not secret). Uses workerd's
 * `crypto.subtle.timingSafeEqual` when present, which throws on a length mismatch, hence the check first.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const subtle = crypto.subtle as SubtleCrypto & { timingSafeEqual?: (x: ArrayBufferView, y: ArrayBufferView) => boolean };
  if (typeof subtle.timingSafeEqual === "function") return subtle.timingSafeEqual(a, b);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

// ---------------------------------------------------------------------------------------------
// Bounded text and cards

/**
 * Trim and bound a string to `max` UTF-16 units (the unit zod's `max` counts), ending with "…" when cut
 * and never splitting a surrogate pair. Empty after trimming → undefined.
 */
export function clip(value: string, max: number): string | undefined {
  const text = value.trim();
  if (text === "") return undefined;
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end).trimEnd()}…`;
}

/** `clip` for a value of unknown type: strings only, numbers and booleans stringified. */
export function clipUnknown(value: unknown, max: number): string | undefined {
  if (typeof value === "string") return clip(value, max);
  if ((typeof value === "number" && Number.isFinite(value)) || typeof value === "boolean") return clip(String(value), max);
  return undefined;
}

/** Bounds shared by every adapter (CrmCardBody in src/domain/kinds.ts, plus the Slack text field). */
export const CARD_LIMITS = {
  title: 500,
  party: 500,
  stage: 200,
  field: 200,
  fields: 100,
  objectType: 64,
  event: 64,
  objectId: 256,
  deliveryId: 256,
  url: 2048,
  text: 8000,
} as const;

/** An absolute http(s) URL within the card limit, or undefined (cards never carry other schemes). */
export function httpUrl(value: string | undefined): string | undefined {
  if (value === undefined || value.length > CARD_LIMITS.url) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** Optional properties without `undefined` values (exactOptionalPropertyTypes). */
export function definedOnly<T extends object>(fields: { [K in keyof T]?: T[K] | undefined }): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Why the card would fail `CrmCardBody` (src/domain/kinds.ts), or undefined when it passes; adapters call
 * it on every card so that what they emit always posts. Fields the schema does not know (Slack's `text`)
 * are dropped by it, not refused.
 */
export function cardProblem(card: CrmCard): string | undefined {
  const checked = CrmCardBody.safeParse(card);
  return checked.success ? undefined : describeIssue(checked.error, "card");
}

/** A JSON Response. */
export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } });
}

const ENVELOPE_CODE = { 400: "invalid_request", 401: "unauthorized", 404: "not_found", 409: "conflict", 413: "too_large", 429: "rate_limited" } as const;

/** The API error envelope (API.md "Conventions") for a rejected delivery. */
export function envelopeRejection(status: RejectionStatus, reason: string): Response {
  return jsonResponse(status, errorBody(ENVELOPE_CODE[status], reason));
}
