import { base64Decode, base64Encode, concatBytes, utf8, utf8Decode } from "../lib/encoding";
import { randomBytes } from "../lib/random";

/**
 * Secrets the server must be able to read back (HMAC keys of integrations and outbound endpoints)
 * are stored sealed with AES-256-GCM under a key derived (HKDF) from the Worker secret
 * TOKEN_SIGNING_KEY: a leaked D1 row alone does not reveal them. Rotating TOKEN_SIGNING_KEY
 * therefore requires re-creating those secrets (rotate endpoints exist for that).
 */
const INFO = utf8("switchboard/sealed-secrets/v1");

async function sealingKey(workerSecret: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", utf8(workerSecret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: INFO },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

export async function seal(workerSecret: string, plaintext: string): Promise<string> {
  const iv = randomBytes(12);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await sealingKey(workerSecret), utf8(plaintext)));
  return `v1.${base64Encode(concatBytes(iv, ct))}`;
}

/** The plaintext, or undefined when the sealed value is damaged or was sealed under another key. */
export async function unseal(workerSecret: string, sealed: string): Promise<string | undefined> {
  if (!sealed.startsWith("v1.")) return undefined;
  try {
    const bytes = base64Decode(sealed.slice(3));
    if (!bytes) return undefined;
    const pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.subarray(0, 12) }, await sealingKey(workerSecret), bytes.subarray(12));
    return utf8Decode(pt);
  } catch {
    return undefined;
  }
}
