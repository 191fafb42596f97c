/** Apple Push Notification service, token-based (.p8 key, ES256 provider token) over the HTTP/2 API. */

import type { PushDeps, PushNotification, PushProvider } from "./types";
import { definePushProvider, errorMessage, retryOutcome } from "./provider";
import { importPkcs8SigningKey, signJwt } from "./jwt";
import { collapseId, fitToBytes, truncateText } from "./payload";
import { fetchErrorReason } from "../net/retry";
import { discardBody, safeText } from "../net/responses";
import { z } from "zod";

export interface ApnsConfig {
  keyId: string;
  teamId: string;
  /** The .p8 key: PKCS#8 PEM of a P-256 private key. */
  privateKey: string;
  /** The app's bundle id, sent as `apns-topic` (required with token auth). */
  bundleId: string;
  environment: "production" | "sandbox";
}

/**
 * Apple rejects provider tokens older than 60 min (403 ExpiredProviderToken) and answers
 * 429 TooManyProviderTokenUpdates to tokens refreshed more often than every 20 min.
 */
const TOKEN_REFRESH_MS = 50 * 60 * 1000;
const TOKEN_MIN_AGE_MS = 20 * 60 * 1000;
/** Keep an undeliverable alert for a day: later ones for the conversation replace it via the collapse id. */
const EXPIRATION_SECONDS = 24 * 60 * 60;
const MAX_PAYLOAD_BYTES = 4096;

/** APNs host per environment: sandbox tokens are rejected by production and vice versa (BadDeviceToken). */
export function apnsHost(environment: "production" | "sandbox"): string {
  return environment === "sandbox" ? "https://api.sandbox.push.apple.com" : "https://api.push.apple.com";
}

/** A device token as iOS hands it over: hex (32 bytes today; Apple says the length may grow). */
export function isPlausibleApnsToken(token: string): boolean {
  return /^[0-9a-fA-F]{64,200}$/.test(token);
}

interface CachedProviderToken {
  jwt: string;
  issuedAt: number;
}

/** Module-level and keyed by (team, key), so all provider instances in the isolate share one token. */
const providerTokens = new Map<string, CachedProviderToken>();
const signingKeys = new Map<string, Promise<CryptoKey>>();

/** Forget cached provider tokens and keys (tests; a rotated key). */
export function clearApnsTokenCache(): void {
  providerTokens.clear();
  signingKeys.clear();
}

function signingKey(config: ApnsConfig): Promise<CryptoKey> {
  const id = `${config.teamId}|${config.keyId}|${config.privateKey}`;
  let key = signingKeys.get(id);
  if (!key) {
    key = importPkcs8SigningKey(config.privateKey, "ES256");
    key.catch(() => signingKeys.delete(id));
    signingKeys.set(id, key);
  }
  return key;
}

/** The provider token: header {alg ES256, kid}, claims {iss team id, iat}, reused for 50 minutes. */
export async function apnsProviderToken(config: ApnsConfig, nowMs: number): Promise<string> {
  const cacheKey = `${config.teamId}|${config.keyId}`;
  const cached = providerTokens.get(cacheKey);
  if (cached && nowMs - cached.issuedAt < TOKEN_REFRESH_MS) return cached.jwt;
  const jwt = await signJwt({ alg: "ES256", kid: config.keyId }, { iss: config.teamId, iat: Math.floor(nowMs / 1000) }, await signingKey(config));
  providerTokens.set(cacheKey, { jwt, issuedAt: nowMs });
  return jwt;
}

/** The alert payload; custom keys sit beside `aps` where the app reads them. */
export function apnsPayload(n: PushNotification): string {
  const title = truncateText(n.title, 200);
  const render = (body: string) =>
    JSON.stringify({
      aps: { alert: { title, body }, badge: n.badge, sound: "default", "thread-id": n.conversationId },
      conversationId: n.conversationId,
      seq: n.seq,
    });
  return fitToBytes(n.preview, MAX_PAYLOAD_BYTES, render);
}

export interface ApnsOptions {
  timeoutMs?: number;
}

/** The APNs provider: 200 delivered; 410 / BadDeviceToken / DeviceTokenNotForTopic gone; 429/5xx retry; else failed. */
export function createApnsProvider(config: ApnsConfig, deps: PushDeps, options: ApnsOptions = {}): PushProvider {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return definePushProvider("apns", async (target, notification) => {
    // The token becomes a path segment, so anything but hex is refused before it reaches the URL.
    if (!isPlausibleApnsToken(target.token)) return { kind: "failed", reason: "apns device token is not hex" };
    const now = deps.now();
    let jwt: string;
    try {
      jwt = await apnsProviderToken(config, now);
    } catch (error) {
      return { kind: "failed", reason: `apns: cannot sign with APNS_PRIVATE_KEY: ${errorMessage(error)}` };
    }
    let response: Response;
    try {
      response = await deps.fetch(`${apnsHost(config.environment)}/3/device/${target.token}`, {
        method: "POST",
        headers: {
          authorization: `bearer ${jwt}`,
          "apns-topic": config.bundleId,
          "apns-push-type": "alert",
          "apns-priority": "10",
          // Absolute UNIX seconds: a relative value would be read as a 1970 date.
          "apns-expiration": String(Math.floor(now / 1000) + EXPIRATION_SECONDS),
          "apns-collapse-id": await collapseId(notification.conversationId),
          "content-type": "application/json",
        },
        body: apnsPayload(notification),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      return { kind: "retry", reason: `apns: ${fetchErrorReason(error)}` };
    }
    const status = response.status;
    if (status === 200) {
      await discardBody(response);
      return { kind: "delivered", status };
    }
    const apnsReason = parseReason(await safeText(response));
    const reason = `apns answered ${status}${apnsReason ? ` ${apnsReason}` : ""}`;
    if (status === 410) return { kind: "gone", reason, status };
    if (status === 400 && (apnsReason === "BadDeviceToken" || apnsReason === "DeviceTokenNotForTopic")) {
      return { kind: "gone", reason, status };
    }
    if (status === 429 || status === 500 || status === 503) return retryOutcome(reason, status, response.headers, deps.now());
    if (status === 403 && apnsReason === "ExpiredProviderToken") {
      // Re-sign on the next send, but never sooner than Apple's 20-minute floor.
      const cacheKey = `${config.teamId}|${config.keyId}`;
      const cached = providerTokens.get(cacheKey);
      if (cached && now - cached.issuedAt >= TOKEN_MIN_AGE_MS) providerTokens.delete(cacheKey);
    }
    return { kind: "failed", reason, status };
  });
}

/** APNs' error answer: `{ "reason": "BadDeviceToken" }`. */
const ApnsErrorBody = z.object({ reason: z.string() });

function parseReason(text: string): string | undefined {
  try {
    return ApnsErrorBody.safeParse(JSON.parse(text)).data?.reason;
  } catch {
    return undefined;
  }
}
