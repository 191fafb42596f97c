/** VAPID (RFC 8292): the ES256 JWT that identifies this application server to Web Push services. */

import { importJWK } from "jose";
import { b64urlDecode, b64urlEncode } from "../lib/encoding";
import { signJwt } from "./jwt";

/** The operator's VAPID key pair (base64url: 65-byte uncompressed point, 32-byte scalar) and contact. */
export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  /** `sub` claim: a `mailto:` or `https:` URL (RFC 8292 §2.1; Apple rejects anything else). */
  subject: string;
}

/**
 * Token lifetime. RFC 8292 §2 allows up to 24 h, but Apple refuses `exp` more than a day out and
 * clock skew eats into that, so 12 h as the reference libraries do.
 */
export const VAPID_TOKEN_SECONDS = 12 * 60 * 60;

interface CachedHeader {
  authorization: string;
  /** Re-sign once half the lifetime is gone so a token never nears `exp` while in flight or queued. */
  refreshAt: number;
}

const headerCache = new Map<string, CachedHeader>();
const keyCache = new Map<string, Promise<CryptoKey>>();
const MAX_CACHED_AUDIENCES = 1000;

/** Check the key pair decodes to a P-256 point and scalar and the subject is a mailto:/https: URL. */
export function checkVapidKeys(keys: VapidKeys): { ok: true } | { ok: false; reason: string } {
  try {
    const pub = b64urlDecode(keys.publicKey);
    if (pub.length !== 65 || pub[0] !== 0x04) return { ok: false, reason: "VAPID_PUBLIC_KEY is not a 65-byte P-256 point" };
    if (b64urlDecode(keys.privateKey).length !== 32) return { ok: false, reason: "VAPID_PRIVATE_KEY is not 32 bytes" };
  } catch {
    return { ok: false, reason: "VAPID keys are not base64url" };
  }
  if (!/^(mailto:|https:\/\/)\S+$/.test(keys.subject)) {
    return { ok: false, reason: "VAPID_SUBJECT must be a mailto: or https: URL" };
  }
  return { ok: true };
}

/**
 * Import an ES256 signing key from the raw public point and raw 32-byte private scalar, the form in
 * which VAPID keys are distributed (RFC 8292 §3.2 uses the uncompressed point for `k`).
 */
async function importVapidSigningKey(publicRaw: Uint8Array, privateRaw: Uint8Array): Promise<CryptoKey> {
  if (publicRaw.length !== 65 || publicRaw[0] !== 0x04) throw new Error("public key is not an uncompressed P-256 point");
  if (privateRaw.length !== 32) throw new Error("private key is not a 32-byte P-256 scalar");
  const jwk = {
    kty: "EC" as const,
    crv: "P-256",
    x: b64urlEncode(publicRaw.subarray(1, 33)),
    y: b64urlEncode(publicRaw.subarray(33, 65)),
    d: b64urlEncode(privateRaw),
  };
  return importJWK(jwk, "ES256");
}

function signingKey(keys: VapidKeys): Promise<CryptoKey> {
  const id = `${keys.publicKey}|${keys.privateKey}`;
  let key = keyCache.get(id);
  if (!key) {
    key = importVapidSigningKey(b64urlDecode(keys.publicKey), b64urlDecode(keys.privateKey));
    // A rejected import must not be cached: the next attempt (maybe with a fixed secret) tries again.
    key.catch(() => keyCache.delete(id));
    keyCache.set(id, key);
  }
  return key;
}

/** The `aud` claim: the push resource's origin, never its path (RFC 8292 §2). */
export function vapidAudience(endpoint: string): string {
  return new URL(endpoint).origin;
}

/** Sign a VAPID JWT for one audience: header {typ JWT, alg ES256}, claims {aud, exp, sub}. */
export async function signVapidJwt(keys: VapidKeys, audience: string, nowMs: number): Promise<string> {
  const exp = Math.floor(nowMs / 1000) + VAPID_TOKEN_SECONDS;
  return signJwt({ typ: "JWT", alg: "ES256" }, { aud: audience, exp, sub: keys.subject }, await signingKey(keys));
}

/**
 * The `Authorization` header value for a push to `endpoint`: `vapid t=<jwt>, k=<public key>`
 * (RFC 8292 §3). Cached per key and audience, since signing per message is wasted work and one
 * token serves every subscription on that push service.
 */
export async function vapidAuthorization(keys: VapidKeys, endpoint: string, nowMs: number): Promise<string> {
  const audience = vapidAudience(endpoint);
  const cacheKey = `${keys.publicKey}|${keys.subject}|${audience}`;
  const cached = headerCache.get(cacheKey);
  if (cached && nowMs < cached.refreshAt) return cached.authorization;
  const token = await signVapidJwt(keys, audience, nowMs);
  const authorization = `vapid t=${token}, k=${keys.publicKey}`;
  if (headerCache.size >= MAX_CACHED_AUDIENCES) headerCache.clear();
  headerCache.set(cacheKey, { authorization, refreshAt: nowMs + (VAPID_TOKEN_SECONDS * 1000) / 2 });
  return authorization;
}

/** Drop the cached token for an endpoint's push service (after a 403, so the next attempt re-signs). */
export function forgetVapidAuthorization(keys: VapidKeys, endpoint: string): void {
  headerCache.delete(`${keys.publicKey}|${keys.subject}|${vapidAudience(endpoint)}`);
}

/** Empty the token and key caches (tests). */
export function clearVapidCache(): void {
  headerCache.clear();
  keyCache.clear();
}
