/** Base64url, shared by tokens, signed links and the push providers. */

/** Base64url without padding (RFC 7515 §2, which JWS, VAPID and Web Push keys all use). */
export function b64urlEncode(data: Uint8Array | ArrayBuffer): string {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Decode base64url (padding tolerated; standard `+/` also accepted because browsers' PushSubscription
 * JSON is base64url but some client libraries hand over standard base64). Throws on anything else.
 */
export function b64urlDecode(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_+/-]*={0,2}$/.test(text)) throw new Error("invalid base64url");
  const unpadded = text.replace(/=+$/, "");
  if (unpadded.length % 4 === 1) throw new Error("invalid base64url length");
  const b64 = unpadded.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Decode base64url, or undefined when it is not valid base64url. */
export function tryB64urlDecode(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    return b64urlDecode(text);
  } catch {
    return undefined;
  }
}
