/** Bytes and text: UTF-8, base64 in both alphabets, hex. Shared by tokens, signed links, push and CRM. */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  // The runtime's typing leaves the buffer as ArrayBufferLike; encode() always returns a fresh ArrayBuffer.
  return encoder.encode(text) as Uint8Array<ArrayBuffer>;
}

/** Decode UTF-8; invalid sequences become U+FFFD (never throws). */
export function utf8Decode(bytes: Uint8Array | ArrayBuffer): string {
  return decoder.decode(bytes);
}

/** Concatenate byte arrays (signatures cover the raw bytes, never a re-encoded string). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Lower-case hex. */
export function toHex(data: Uint8Array | ArrayBuffer): string {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

/** Standard base64 with padding (RFC 4648 §4): Standard Webhooks and HubSpot v3 signatures, sealed secrets. */
export function base64Encode(data: Uint8Array | ArrayBuffer): string {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  let binary = "";
  // Chunked: spreading a large array into one call overflows the argument limit.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Base64url without padding (RFC 7515 §2, which JWS, VAPID and Web Push keys all use). */
export function b64urlEncode(data: Uint8Array | ArrayBuffer): string {
  return base64Encode(data).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Decode base64 in either alphabet, padding optional: browsers' PushSubscription JSON is base64url but
 * some client libraries hand over standard base64, and secrets get pasted from many places. Undefined
 * when the text is not base64. Never throws.
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

/** {@link base64Decode} for input that must be valid (configured keys, values already checked): throws otherwise. */
export function b64urlDecode(text: string): Uint8Array<ArrayBuffer> {
  const bytes = base64Decode(text);
  if (!bytes) throw new Error("invalid base64url");
  return bytes;
}
