import { sign, verify } from "hono/jwt";
import { isExternalId } from "../protocol/ids";
import { b64urlEncode } from "../lib/encoding";
import { constantTimeEqual, sha256 } from "../lib/hash";
import { randomBytes } from "../lib/random";

/** Prefix of tenant api keys, so a key is recognisable in logs and secret scanners. */
export const API_KEY_PREFIX = "sbk_";
const ISSUER = "switchboard";

/** A new random tenant api key (256 bits). It is shown once; only its hash is stored. */
export function newApiKey(): string {
  return API_KEY_PREFIX + b64urlEncode(randomBytes(32));
}

/** Compare two secrets in time independent of where they differ (both are hashed to equal length first). */
export async function secretsEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256(given), sha256(expected)]);
  return constantTimeEqual(a, b) && expected.length > 0;
}

export interface UserClaims {
  tenantId: string;
  userId: string;
  expiresAt: number;
  /** The user's token generation when it was issued; revoking a user's tokens moves the generation on. */
  generation: number;
}

/** Sign a user token (JWT, HS256) carrying tenant and user. */
export async function issueUserToken(
  key: string,
  claims: { tenantId: string; userId: string; ttlSeconds: number; generation?: number },
  now = Date.now(),
): Promise<{ token: string; expiresAt: number }> {
  const iat = Math.floor(now / 1000);
  const exp = iat + claims.ttlSeconds;
  const token = await sign({ iss: ISSUER, sub: claims.userId, tid: claims.tenantId, gen: claims.generation ?? 0, iat, exp }, key, "HS256");
  return { token, expiresAt: exp * 1000 };
}

/** Verify a user token; undefined when it is malformed, forged, expired or not ours. */
export async function verifyUserToken(key: string, token: string): Promise<UserClaims | undefined> {
  try {
    const payload = await verify(token, key, { alg: "HS256", iss: ISSUER });
    const { sub, tid, exp, gen = 0 } = payload;
    if (typeof sub !== "string" || typeof tid !== "string" || typeof exp !== "number") return undefined;
    if (typeof gen !== "number" || !Number.isSafeInteger(gen) || gen < 0) return undefined;
    if (!isExternalId(sub) || !isExternalId(tid)) return undefined;
    return { tenantId: tid, userId: sub, expiresAt: exp * 1000, generation: gen };
  } catch {
    return undefined;
  }
}
