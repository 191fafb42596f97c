/**
 * Firebase Cloud Messaging, HTTP v1 API, authenticated with a Google service account (OAuth 2.0 JWT
 * bearer grant, RFC 7523): no SDK, since firebase-admin needs Node; the assertion is signed with jose.
 */

import type { PushDeps, PushNotification, PushOutcome, PushProvider } from "./types";
import { definePushProvider, errorMessage, retryOutcome } from "./provider";
import { importPkcs8SigningKey, signJwt } from "./jwt";
import { collapseId, fitToBytes, truncateText } from "./payload";
import { fetchErrorReason } from "../net/retry";
import { discardBody, safeText } from "../net/responses";
import { parseStoredObject } from "../protocol/json";
import { z } from "zod";

/** Google's OAuth 2.0 token endpoint: both the assertion's `aud` and where it is exchanged. */
export const FCM_TOKEN_URL = "https://oauth2.googleapis.com/token";
/** The one scope `messages:send` needs. */
export const FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
/** FCM rejects a message over 4096 bytes; leave room for the envelope's own bytes. */
const MAX_MESSAGE_BYTES = 4000;
/** Google caps a service-account assertion at one hour. */
const ASSERTION_SECONDS = 3600;
/** Re-mint an access token this long before it expires, so no request carries one that dies in flight. */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

/** The fields of a Google service-account JSON key that the flow needs. */
export interface ServiceAccount {
  project_id: string;
  client_email: string;
  private_key: string;
  private_key_id: string;
}

/** Parse `FCM_SERVICE_ACCOUNT`; a reason when it is not a usable service-account key. */
export function parseServiceAccount(json: string): { ok: true; account: ServiceAccount } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { ok: false, reason: "FCM_SERVICE_ACCOUNT is not JSON" };
  }
  if (typeof value !== "object" || value === null) return { ok: false, reason: "FCM_SERVICE_ACCOUNT is not an object" };
  const parsed = ServiceAccountJson.safeParse(value);
  if (!parsed.success) return { ok: false, reason: `FCM_SERVICE_ACCOUNT lacks ${String(parsed.error.issues[0]?.path[0])}` };
  return { ok: true, account: parsed.data };
}

const nonEmpty = z.string().min(1);
/** The fields of a service-account key file this provider uses (the others are dropped). */
const ServiceAccountJson = z.object({ project_id: nonEmpty, client_email: nonEmpty, private_key: nonEmpty, private_key_id: nonEmpty });

/** A field of a provider's answer that is read only when it has the documented type. */
const optionalString = z.string().optional().catch(undefined);

/** The token endpoint's error answer (RFC 6749 §5.2). */
const TokenError = z.object({ error: optionalString, error_description: optionalString });
/** The token endpoint's success answer (RFC 6749 §5.1). */
const TokenAnswer = z.object({ access_token: z.string(), expires_in: z.number().optional().catch(undefined) });

/** A plausible FCM registration token (opaque, URL-safe; roughly 140–250 characters today). */
export function isPlausibleFcmToken(token: string): boolean {
  return /^[A-Za-z0-9_:\-.]{20,4096}$/.test(token);
}

// ---------------------------------------------------------------------------------------------
// Access tokens

interface CachedToken {
  accessToken: string;
  expiresAt: number;
}

type TokenResult = { ok: true; accessToken: string; fresh: boolean } | { ok: false; outcome: PushOutcome };

/**
 * Module-level, so every provider instance in this isolate shares one token per service account:
 * Google rate-limits token minting, and a queue batch must not mint one per message. In-flight
 * requests are shared too, so a batch's concurrent sends wait for the same exchange.
 */
const tokenCache = new Map<string, CachedToken>();
const inflight = new Map<string, Promise<TokenResult>>();

/** Forget cached access tokens (tests; a rotated key). */
export function clearFcmTokenCache(): void {
  tokenCache.clear();
  inflight.clear();
}

/** The signed service-account assertion (RFC 7523 §2.1) exchanged for an access token. */
export async function fcmAssertion(account: ServiceAccount, nowMs: number): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  const key = await importPkcs8SigningKey(account.private_key, "RS256");
  return signJwt(
    { alg: "RS256", typ: "JWT", kid: account.private_key_id },
    { iss: account.client_email, scope: FCM_SCOPE, aud: FCM_TOKEN_URL, iat, exp: iat + ASSERTION_SECONDS },
    key,
  );
}

async function accessToken(account: ServiceAccount, deps: PushDeps, timeoutMs: number): Promise<TokenResult> {
  const cached = tokenCache.get(account.client_email);
  if (cached && deps.now() < cached.expiresAt - REFRESH_MARGIN_MS) return { ok: true, accessToken: cached.accessToken, fresh: false };
  let pending = inflight.get(account.client_email);
  if (!pending) {
    pending = mintAccessToken(account, deps, timeoutMs).finally(() => inflight.delete(account.client_email));
    inflight.set(account.client_email, pending);
  }
  return pending;
}

async function mintAccessToken(account: ServiceAccount, deps: PushDeps, timeoutMs: number): Promise<TokenResult> {
  let assertion: string;
  try {
    assertion = await fcmAssertion(account, deps.now());
  } catch (error) {
    return { ok: false, outcome: { kind: "failed", reason: `fcm: cannot sign with private_key: ${errorMessage(error)}` } };
  }
  let response: Response;
  try {
    response = await deps.fetch(FCM_TOKEN_URL, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }).toString(),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return { ok: false, outcome: { kind: "retry", reason: `fcm token: ${fetchErrorReason(error)}` } };
  }
  const status = response.status;
  const text = await safeText(response);
  if (status === 429 || status >= 500) {
    return { ok: false, outcome: retryOutcome(`fcm token endpoint answered ${status}`, status, response.headers, deps.now()) };
  }
  if (status !== 200) {
    // invalid_grant / unauthorized_client: a revoked or wrong key, not something a retry fixes.
    const error = TokenError.safeParse(tryJson(text)).data;
    const detail = [error?.error, error?.error_description].filter((x) => x !== undefined).join(": ");
    return { ok: false, outcome: { kind: "failed", reason: `fcm token endpoint answered ${status}${detail ? ` (${detail})` : ""}`, status } };
  }
  const body = TokenAnswer.safeParse(tryJson(text)).data;
  if (!body) {
    return { ok: false, outcome: { kind: "retry", reason: "fcm token endpoint returned no access_token", status } };
  }
  const expiresIn = body.expires_in ?? 3600;
  tokenCache.set(account.client_email, { accessToken: body.access_token, expiresAt: deps.now() + expiresIn * 1000 });
  return { ok: true, accessToken: body.access_token, fresh: true };
}

// ---------------------------------------------------------------------------------------------
// Messages

/**
 * The v1 `messages:send` body. `data` values are all strings (FCM rejects anything else with
 * INVALID_ARGUMENT); the `apns` block lets iOS devices registered through FCM get a proper alert.
 */
export async function fcmMessage(token: string, n: PushNotification): Promise<Record<string, unknown>> {
  const collapse = await collapseId(n.conversationId);
  const title = truncateText(n.title, 200);
  const sender = truncateText(n.sender, 200);
  const render = (body: string) =>
    JSON.stringify({
      message: {
        token,
        notification: { title, body },
        data: { conversationId: n.conversationId, seq: String(n.seq), sender, badge: String(n.badge) },
        android: { priority: "HIGH", collapse_key: collapse },
        apns: {
          headers: { "apns-priority": "10", "apns-push-type": "alert", "apns-collapse-id": collapse },
          payload: { aps: { alert: { title, body }, badge: n.badge, sound: "default", "thread-id": n.conversationId } },
        },
      },
    });
  return parseStoredObject(fitToBytes(n.preview, MAX_MESSAGE_BYTES, render), "fcm message");
}

export interface FcmOptions {
  timeoutMs?: number;
}

/** The FCM provider. */
export function createFcmProvider(account: ServiceAccount, deps: PushDeps, options: FcmOptions = {}): PushProvider {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const url = `https://fcm.googleapis.com/v1/projects/${encodeURIComponent(account.project_id)}/messages:send`;
  return definePushProvider("fcm", async (target, notification) => {
    const token = await accessToken(account, deps, timeoutMs);
    if (!token.ok) return token.outcome;
    const body = JSON.stringify(await fcmMessage(target.token, notification));
    let response: Response;
    try {
      response = await deps.fetch(url, {
        method: "POST",
        headers: { Authorization: `Bearer ${token.accessToken}`, "Content-Type": "application/json" },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      return { kind: "retry", reason: `fcm: ${fetchErrorReason(error)}` };
    }
    if (response.ok) {
      await discardBody(response);
      return { kind: "delivered", status: response.status };
    }
    return mapFcmError(response, await safeText(response), deps.now(), () => {
      // A cached token the server no longer accepts (revoked, clock skew): mint anew next time.
      if (!token.fresh) tokenCache.delete(account.client_email);
      return !token.fresh;
    });
  });
}

/** The parts of an FCM error answer this provider reads; a part of another shape is left out. */
const FcmErrorBody = z.object({
  error: z
    .object({
      message: optionalString,
      status: optionalString,
      details: z
        .array(
          z
            .object({
              errorCode: optionalString,
              fieldViolations: z.array(z.object({ field: optionalString }).catch({})).optional().catch(undefined),
            })
            .catch({}),
        )
        .optional()
        .catch(undefined),
    })
    .optional()
    .catch(undefined),
});

/**
 * Map an FCM error response. `details[].errorCode` (the FcmError) is authoritative; the HTTP status
 * and the canonical `status` are the fallback, as Google's documentation prescribes.
 */
function mapFcmError(response: Response, text: string, nowMs: number, dropCachedToken: () => boolean): PushOutcome {
  const status = response.status;
  const error = FcmErrorBody.safeParse(tryJson(text)).data?.error;
  const details = error?.details ?? [];
  const errorCode = details.find((d) => d.errorCode !== undefined)?.errorCode ?? error?.status ?? "";
  const message = error?.message ?? "";
  const reason = `fcm answered ${status}${errorCode ? ` ${errorCode}` : ""}${message ? `: ${message}` : ""}`;
  const aboutToken =
    /registration token/i.test(message) ||
    details.some((d) => d.fieldViolations?.some((f) => f.field === "message.token"));

  switch (errorCode) {
    case "UNREGISTERED":
    case "SENDER_ID_MISMATCH":
      return { kind: "gone", reason, status };
    case "INVALID_ARGUMENT":
      // Only a malformed token condemns the device; any other invalid argument is our payload's fault.
      return aboutToken ? { kind: "gone", reason, status } : { kind: "failed", reason, status };
    case "QUOTA_EXCEEDED":
    case "UNAVAILABLE":
    case "INTERNAL":
      return retryOutcome(reason, status, response.headers, nowMs);
    case "THIRD_PARTY_AUTH_ERROR":
      return { kind: "failed", reason, status };
  }
  if (status === 404) return { kind: "gone", reason, status };
  if (status === 429 || status >= 500) return retryOutcome(reason, status, response.headers, nowMs);
  if (status === 401 && dropCachedToken()) return { kind: "retry", reason: `${reason} (cached access token dropped)`, status };
  return { kind: "failed", reason, status };
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
