/**
 * The JWTs the providers sign (APNs provider tokens and VAPID: ES256; FCM's service-account grant:
 * RS256), with the jose library on Web Crypto.
 */

import { importPKCS8, SignJWT, type JWTHeaderParameters, type JWTPayload } from "jose";

export type JwsAlg = "ES256" | "RS256";

/**
 * Import a PKCS#8 PEM private key for signing (APNs .p8 keys: ES256; Google service accounts: RS256).
 * `EC PRIVATE KEY` blocks are not PKCS#8 and are refused. Tolerates literal `\n` sequences, which appear
 * when a service-account key is pasted into a secret without JSON decoding, and text around the block.
 */
export async function importPkcs8SigningKey(pem: string, alg: JwsAlg): Promise<CryptoKey> {
  const block = /-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----/.exec(pem.replace(/\\n/g, "\n"));
  if (!block) throw new Error("no PRIVATE KEY PEM block");
  return importPKCS8(block[0], alg);
}

/** Sign a compact JWT with exactly this header (which names the alg) and these claims. */
export function signJwt(header: JWTHeaderParameters, claims: JWTPayload, key: CryptoKey): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header).sign(key);
}
