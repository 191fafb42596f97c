/**
 * Web Push (RFC 8030) with message encryption (RFC 8291, `aes128gcm` of RFC 8188, on Web Crypto) and
 * VAPID (RFC 8292, src/push/vapid.ts).
 */

import type { PushDeps, PushNotification, PushProvider, WebPushSubscription } from "./types";
import { definePushProvider, retryOutcome } from "./provider";
import { b64urlDecode, b64urlEncode, base64Decode, concatBytes, utf8 } from "../lib/encoding";
import { fitToBytes, sha256B64url, truncateText } from "./payload";
import { hmacSha256 } from "../lib/hash";
import { randomBytes } from "../lib/random";
import { fetchErrorReason } from "../net/retry";
import { discardBody } from "../net/responses";
import { checkOutboundUrl } from "../net/url-safety";
import { forgetVapidAuthorization, vapidAuthorization, type VapidKeys } from "./vapid";

/** One record of 4096 octets: push services must accept at least this (RFC 8030 §7.2). */
export const WEB_PUSH_RECORD_SIZE = 4096;
/** 4096 − 86 (header: salt 16, rs 4, idlen 1, keyid 65) − 16 (GCM tag) − 1 (delimiter), RFC 8291 §4. */
export const WEB_PUSH_MAX_PLAINTEXT = 3993;
const HEADER_LENGTH = 86;
const TAG_LENGTH = 16;
/** Pad the plaintext up to a multiple of this, so the ciphertext length says little about the preview's. */
const PAD_BLOCK = 64;

// ---------------------------------------------------------------------------------------------
// Subscription validation

export type SubscriptionCheck = { ok: true; subscription: WebPushSubscription } | { ok: false; reason: string };

/**
 * Validate a Web Push subscription as PushManager's `toJSON()` gives it: `keys.p256dh` must decode to a
 * 65-byte uncompressed P-256 point (0x04 || x || y) and `keys.auth` to 16 bytes (RFC 8291 §3). The
 * endpoint must be public `https` (any push service), or, with `environment` "development", may also be
 * a loopback URL (a local fake push service). Unknown extra fields (`expirationTime`) are dropped.
 */
export function checkWebPushSubscription(value: unknown, environment = "production"): SubscriptionCheck {
  if (typeof value !== "object" || value === null) return { ok: false, reason: "subscription must be an object" };
  const endpoint = "endpoint" in value ? value.endpoint : undefined;
  const keys = "keys" in value ? value.keys : undefined;
  if (typeof endpoint !== "string") return { ok: false, reason: "subscription.endpoint must be a string" };
  const publicCheck = checkOutboundUrl(endpoint, "production");
  if (!publicCheck.ok && !(environment === "development" && checkOutboundUrl(endpoint, "development").ok)) {
    return { ok: false, reason: `subscription.endpoint: ${publicCheck.reason}` };
  }
  if (typeof keys !== "object" || keys === null) return { ok: false, reason: "subscription.keys must be an object" };
  const p256dh = "p256dh" in keys ? keys.p256dh : undefined;
  const auth = "auth" in keys ? keys.auth : undefined;
  if (typeof p256dh !== "string") return { ok: false, reason: "subscription.keys.p256dh must be a string" };
  if (typeof auth !== "string") return { ok: false, reason: "subscription.keys.auth must be a string" };
  const point = base64Decode(p256dh);
  if (!point || point.length !== 65 || point[0] !== 0x04) {
    return { ok: false, reason: "subscription.keys.p256dh must be a base64url 65-byte uncompressed P-256 point" };
  }
  const secret = base64Decode(auth);
  if (!secret || secret.length !== 16) return { ok: false, reason: "subscription.keys.auth must be 16 bytes, base64url" };
  return { ok: true, subscription: { endpoint, keys: { p256dh, auth } } };
}

/** Type guard over {@link checkWebPushSubscription}. */
export function isValidWebPushSubscription(value: unknown, environment = "production"): value is WebPushSubscription {
  return checkWebPushSubscription(value, environment).ok;
}

// ---------------------------------------------------------------------------------------------
// RFC 8291 encryption

/** Every value RFC 8291 §3.4 / RFC 8188 §2.2 derive, exposed so tests can compare each with Appendix A. */
export interface WebPushKeySchedule {
  ecdhSecret: Uint8Array<ArrayBuffer>;
  prkKey: Uint8Array<ArrayBuffer>;
  keyInfo: Uint8Array<ArrayBuffer>;
  ikm: Uint8Array<ArrayBuffer>;
  prk: Uint8Array<ArrayBuffer>;
  cek: Uint8Array<ArrayBuffer>;
  nonce: Uint8Array<ArrayBuffer>;
}

/**
 * Derive the content-encryption key and nonce. HKDF with a single output block is one HMAC for
 * extract and one for expand (`T(1) = HMAC(PRK, info || 0x01)`), written out so every step is checkable.
 */
export async function deriveWebPushKeys(
  ecdhSecret: Uint8Array<ArrayBuffer>,
  authSecret: Uint8Array<ArrayBuffer>,
  uaPublic: Uint8Array,
  asPublic: Uint8Array,
  salt: Uint8Array<ArrayBuffer>,
): Promise<WebPushKeySchedule> {
  // RFC 8291 §3.4: the auth secret salts the ECDH secret; key_info binds both public keys.
  const prkKey = await hmacSha256(authSecret, ecdhSecret);
  const keyInfo = concatBytes(utf8("WebPush: info\0"), uaPublic, asPublic);
  const ikm = await hmacSha256(prkKey, concatBytes(keyInfo, new Uint8Array([1])));
  // RFC 8188 §2.2: the per-message salt, then the fixed CEK and nonce labels.
  const prk = await hmacSha256(salt, ikm);
  const cek = (await hmacSha256(prk, utf8("Content-Encoding: aes128gcm\0\x01"))).slice(0, 16);
  const nonce = (await hmacSha256(prk, utf8("Content-Encoding: nonce\0\x01"))).slice(0, 12);
  return { ecdhSecret, prkKey, keyInfo, ikm, prk, cek, nonce };
}

async function ecdh(privateKey: CryptoKey, publicRaw: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const publicKey = await crypto.subtle.importKey("raw", publicRaw, { name: "ECDH", namedCurve: "P-256" }, false, []);
  // workers-types spell the member `$public` (a JSG naming artefact); the runtime reads `public`.
  const algorithm = { name: "ECDH", public: publicKey } as SubtleCryptoDeriveKeyAlgorithm;
  return new Uint8Array(await crypto.subtle.deriveBits(algorithm, privateKey, 256));
}

/** Import a raw P-256 key pair (65-byte point, 32-byte scalar) for ECDH, e.g. the RFC 8291 test keys. */
export async function importEcdhKeyPair(publicRaw: Uint8Array, privateRaw: Uint8Array): Promise<CryptoKeyPair> {
  if (publicRaw.length !== 65 || publicRaw[0] !== 0x04) throw new Error("not an uncompressed P-256 point");
  const x = b64urlEncode(publicRaw.subarray(1, 33));
  const y = b64urlEncode(publicRaw.subarray(33, 65));
  const alg = { name: "ECDH", namedCurve: "P-256" };
  const privateKey = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x, y, d: b64urlEncode(privateRaw) }, alg, false, ["deriveBits"]);
  const publicKey = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x, y }, alg, true, []);
  return { privateKey, publicKey };
}

export interface WebPushEncryptOptions {
  /** 16 random bytes unless given (RFC 8188 §2.1 requires a fresh salt per message; tests pin it). */
  salt?: Uint8Array<ArrayBuffer>;
  /** The application server's ephemeral ECDH pair, fresh per message unless given (tests pin it). */
  asKeyPair?: CryptoKeyPair;
  /** Zero octets appended after the 0x02 delimiter (RFC 8188 §2). */
  padding?: number;
}

/**
 * Encrypt a push message body for one subscription (RFC 8291 §4): a single `aes128gcm` record with
 * rs = 4096 and the application server's public key as keyid. Returns the complete HTTP body.
 */
export async function encryptWebPush(
  plaintext: Uint8Array,
  uaPublic: Uint8Array<ArrayBuffer>,
  authSecret: Uint8Array<ArrayBuffer>,
  options: WebPushEncryptOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const padding = options.padding ?? 0;
  if (plaintext.length + padding > WEB_PUSH_MAX_PLAINTEXT) throw new Error("push payload exceeds one 4096-byte record");
  const salt = options.salt ?? randomBytes(16);
  if (salt.length !== 16) throw new Error("salt must be 16 bytes");
  const asKeyPair = options.asKeyPair ?? (await ecdhKeyPair());
  const asPublic = await rawPublicKey(asKeyPair.publicKey);

  const keys = await deriveWebPushKeys(await ecdh(asKeyPair.privateKey, uaPublic), authSecret, uaPublic, asPublic, salt);
  // The last (only) record ends with delimiter 0x02, then padding zeros (RFC 8188 §2).
  const record = concatBytes(plaintext, new Uint8Array([2]), new Uint8Array(padding));
  const cek = await crypto.subtle.importKey("raw", keys.cek, "AES-GCM", false, ["encrypt"]);
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: keys.nonce }, cek, record));

  // RFC 8188 §2.1 header; the record size is a big-endian uint32.
  const header = new Uint8Array(HEADER_LENGTH);
  header.set(salt, 0);
  new DataView(header.buffer).setUint32(16, WEB_PUSH_RECORD_SIZE, false);
  header[20] = asPublic.length;
  header.set(asPublic, 21);
  return concatBytes(header, ciphertext);
}

/**
 * The user agent's side of RFC 8291: decrypt a single-record body with the subscription's private key.
 * Used by tests (and any in-house receiver); throws on a bad tag or malformed framing.
 */
export async function decryptWebPush(
  body: Uint8Array,
  uaKeyPair: CryptoKeyPair,
  authSecret: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  if (body.length < HEADER_LENGTH + TAG_LENGTH + 1) throw new Error("body too short");
  const salt = body.slice(0, 16);
  const rs = new DataView(body.buffer, body.byteOffset + 16, 4).getUint32(0, false);
  const idlen = body[20];
  if (idlen !== 65) throw new Error("keyid is not a P-256 point");
  if (body.length > rs) throw new Error("more than one record");
  const asPublic = body.slice(21, 86);
  const uaPublic = await rawPublicKey(uaKeyPair.publicKey);
  const keys = await deriveWebPushKeys(await ecdh(uaKeyPair.privateKey, asPublic), authSecret, uaPublic, asPublic, salt);
  const cek = await crypto.subtle.importKey("raw", keys.cek, "AES-GCM", false, ["decrypt"]);
  const record = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: keys.nonce }, cek, body.slice(HEADER_LENGTH)));
  let end = record.length - 1;
  while (end >= 0 && record[end] === 0) end--;
  if (record[end] !== 2) throw new Error("missing last-record delimiter");
  return record.slice(0, end);
}

// ---------------------------------------------------------------------------------------------
// The provider

/** What the service worker receives (JSON), the shape documented for clients: the notification without its addressing. */
export type WebPushPayload = Pick<PushNotification, "conversationId" | "seq" | "sender" | "preview" | "badge" | "title">;

/**
 * The JSON plaintext for a notification, with the preview cut so the plaintext plus its padding fits
 * one record (a push service answers 413 rather than truncate).
 */
export function webPushPlaintext(n: PushNotification): Uint8Array<ArrayBuffer> {
  const title = truncateText(n.title, 200);
  const sender = truncateText(n.sender, 200);
  const render = (preview: string) =>
    JSON.stringify({ conversationId: n.conversationId, seq: n.seq, sender, preview, badge: n.badge, title } satisfies WebPushPayload);
  return utf8(fitToBytes(n.preview, WEB_PUSH_MAX_PLAINTEXT, render));
}

/**
 * `Topic` (RFC 8030 §5.4): at most 32 base64url characters. Derived from the conversation so a newer
 * push for it replaces one the push service still holds for an offline device.
 */
export async function webPushTopic(conversationId: string): Promise<string> {
  return (await sha256B64url(conversationId)).slice(0, 32);
}

export interface WebPushOptions {
  /** `ENVIRONMENT`, for the endpoint policy (loopback push services only in development). */
  environment: string;
  /** RFC 8030 §5.2 `TTL`: how long the push service keeps the message for an offline device. */
  ttlSeconds?: number;
  timeoutMs?: number;
}

/** The Web Push provider: 201/2xx delivered; 404/410 gone; 429/5xx/timeouts retry; 400/403/413 failed. */
export function createWebPushProvider(vapid: VapidKeys, deps: PushDeps, options: WebPushOptions): PushProvider {
  const ttl = options.ttlSeconds ?? 86_400;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return definePushProvider("webpush", async (target, notification) => {
    const check = checkWebPushSubscription(target.subscription, options.environment);
    if (!check.ok) return { kind: "failed", reason: `invalid subscription: ${check.reason}` };
    const { endpoint, keys } = check.subscription;
    const plaintext = webPushPlaintext(notification);
    const padded = Math.min(WEB_PUSH_MAX_PLAINTEXT, Math.ceil((plaintext.length + 1) / PAD_BLOCK) * PAD_BLOCK - 1);
    const body = await encryptWebPush(plaintext, b64urlDecode(keys.p256dh), b64urlDecode(keys.auth), {
      padding: Math.max(0, padded - plaintext.length),
    });
    const authorization = await vapidAuthorization(vapid, endpoint, deps.now());
    let response: Response;
    try {
      response = await deps.fetch(endpoint, {
        method: "POST",
        headers: {
          TTL: String(ttl),
          Urgency: "high",
          Topic: await webPushTopic(notification.conversationId),
          "Content-Encoding": "aes128gcm",
          "Content-Type": "application/octet-stream",
          Authorization: authorization,
        },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      return { kind: "retry", reason: fetchErrorReason(error) };
    }
    await discardBody(response);
    const status = response.status;
    if (status >= 200 && status < 300) return { kind: "delivered", status };
    // RFC 8030 §7.3: the subscription expired or was unsubscribed.
    if (status === 404 || status === 410) return { kind: "gone", reason: `push service answered ${status}`, status };
    if (status === 429 || status >= 500) return retryOutcome(`push service answered ${status}`, status, response.headers, deps.now());
    // 401/403: the push service rejected our VAPID token; sign a fresh one next time.
    if (status === 401 || status === 403) forgetVapidAuthorization(vapid, endpoint);
    return { kind: "failed", reason: `push service answered ${status}`, status };
  });
}

/** A fresh P-256 ECDH key pair (the runtime's typing of generateKey does not tell a pair from a key). */
async function ecdhKeyPair(): Promise<CryptoKeyPair> {
  const generated = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  if (!("privateKey" in generated)) throw new Error("ECDH key generation returned a single key");
  return generated;
}

/** A public key as its raw uncompressed point (the runtime's typing of exportKey does not tell raw from JWK). */
async function rawPublicKey(key: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  const exported = await crypto.subtle.exportKey("raw", key);
  if (!(exported instanceof ArrayBuffer)) throw new Error("raw key export returned a JWK");
  return new Uint8Array(exported);
}
