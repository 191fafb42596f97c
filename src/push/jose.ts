/**
 * Shared helpers for the push providers: PEM, compact JWS (ES256 / RS256) on WebCrypto only,
 * plus the payload fitting and retry outcome every provider needs.
 */

import { b64urlDecode, b64urlEncode, base64Decode, base64Encode, utf8, utf8Decode } from "../encoding";
import { sha256 } from "../hash";
import { parseRetryAfter } from "../net/retry";

/**
 * DER bytes of a PEM block (PKCS#8 `PRIVATE KEY`, `EC PRIVATE KEY` is not accepted by WebCrypto).
 * Tolerates literal `\n` sequences, which appear when a service-account key is pasted into a secret
 * without JSON decoding.
 */
export function pemToDer(pem: string, label = "PRIVATE KEY"): Uint8Array<ArrayBuffer> {
  const text = pem.replace(/\\n/g, "\n");
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(text);
  if (!match?.[1]) throw new Error(`no ${label} PEM block`);
  return b64urlDecode(match[1].replace(/\s+/g, ""));
}

/** PEM armour for DER bytes (64-column lines, RFC 7468). */
export function derToPem(der: Uint8Array | ArrayBuffer, label = "PRIVATE KEY"): string {
  const lines = base64Encode(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export type JwsAlg = "ES256" | "RS256";

function signAlgorithm(alg: JwsAlg): SubtleCryptoSignAlgorithm {
  // ES256 = ECDSA P-256 with SHA-256; WebCrypto emits the raw r||s form JWS requires (RFC 7518 §3.4).
  return alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "RSASSA-PKCS1-v1_5" };
}

/** Import a PKCS#8 PEM private key for signing (APNs .p8 keys: ES256; Google service accounts: RS256). */
export async function importPkcs8SigningKey(pem: string, alg: JwsAlg): Promise<CryptoKey> {
  const der = pemToDer(pem);
  const algorithm: SubtleCryptoImportKeyAlgorithm =
    alg === "ES256" ? { name: "ECDSA", namedCurve: "P-256" } : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  return crypto.subtle.importKey("pkcs8", der, algorithm, false, ["sign"]);
}

/** Import a raw uncompressed P-256 point (65 bytes, 0x04 || x || y) as an ES256 verification key. */
export async function importEs256PublicKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", raw, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
}

/**
 * Import an ES256 signing key from a raw public point and a raw 32-byte private scalar, the form in
 * which VAPID keys are distributed (RFC 8292 §3.2 uses the uncompressed point for `k`).
 */
export async function importEs256PrivateKeyRaw(publicRaw: Uint8Array, privateRaw: Uint8Array): Promise<CryptoKey> {
  if (publicRaw.length !== 65 || publicRaw[0] !== 0x04) throw new Error("public key is not an uncompressed P-256 point");
  if (privateRaw.length !== 32) throw new Error("private key is not a 32-byte P-256 scalar");
  const jwk: JsonWebKey = {
    kty: "EC",
    crv: "P-256",
    x: b64urlEncode(publicRaw.subarray(1, 33)),
    y: b64urlEncode(publicRaw.subarray(33, 65)),
    d: b64urlEncode(privateRaw),
  };
  return crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
}

/** Sign a compact JWS (JWT) over `base64url(header).base64url(claims)`. */
export async function signJwt(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: CryptoKey,
  alg: JwsAlg,
): Promise<string> {
  const input = `${b64urlEncode(utf8(JSON.stringify(header)))}.${b64urlEncode(utf8(JSON.stringify(claims)))}`;
  const signature = await crypto.subtle.sign(signAlgorithm(alg), key, utf8(input));
  return `${input}.${b64urlEncode(signature)}`;
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

/** Split and parse a compact JWT without verifying it; undefined when malformed. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const [h, c, s, ...rest] = token.split(".");
  if (h === undefined || c === undefined || s === undefined || rest.length > 0) return undefined;
  try {
    const header: unknown = JSON.parse(utf8Decode(b64urlDecode(h)));
    const claims: unknown = JSON.parse(utf8Decode(b64urlDecode(c)));
    if (!isRecord(header) || !isRecord(claims)) return undefined;
    return { header, claims };
  } catch {
    return undefined;
  }
}

/**
 * Verify a compact JWT's signature and `alg` header; returns its parts or undefined. Time claims are
 * the caller's business (the RFC 8292 vector, for one, expired in 2016).
 */
export async function verifyJwt(token: string, key: CryptoKey, alg: JwsAlg): Promise<DecodedJwt | undefined> {
  const decoded = decodeJwt(token);
  if (!decoded || decoded.header["alg"] !== alg) return undefined;
  const dot = token.lastIndexOf(".");
  const signature = base64Decode(token.slice(dot + 1));
  if (!signature) return undefined;
  const ok = await crypto.subtle.verify(signAlgorithm(alg), key, signature, utf8(token.slice(0, dot)));
  return ok ? decoded : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Payloads and outcomes shared by the providers.

/** Cut `text` to at most `maxChars` code points, never splitting a surrogate pair, marking the cut with "…". */
export function truncateText(text: string, maxChars: number): string {
  const chars = Array.from(text);
  if (chars.length <= maxChars) return text;
  if (maxChars <= 0) return "";
  return chars.slice(0, maxChars - 1).join("") + "…";
}

/**
 * The longest `preview` (cut at a code point, with "…") for which `render(preview)` stays within
 * `maxBytes` of UTF-8; push services reject payloads over their limit (Web Push 4096-byte record,
 * FCM 4096, APNs 4096) rather than truncate them.
 */
export function fitToBytes(preview: string, maxBytes: number, render: (preview: string) => string): string {
  if (utf8(render(preview)).length <= maxBytes) return render(preview);
  const chars = Array.from(preview);
  let lo = 0;
  let hi = chars.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (utf8(render(truncateText(preview, mid))).length <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  return render(truncateText(preview, lo));
}

/** SHA-256 of a string, base64url: a stable short id for topics and collapse ids of any length. */
export async function sha256B64url(text: string): Promise<string> {
  return b64urlEncode(await sha256(text));
}

/** A `retry` outcome carrying the server's `Retry-After`, when it sent one. */
export function retryOutcome(
  reason: string,
  status: number,
  headers: Headers,
  nowMs: number,
): { kind: "retry"; reason: string; status: number; retryAfterSeconds?: number } {
  const retryAfterSeconds = parseRetryAfter(headers, nowMs);
  return retryAfterSeconds === undefined
    ? { kind: "retry", reason, status }
    : { kind: "retry", reason, status, retryAfterSeconds };
}
