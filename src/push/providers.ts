/** Build one provider per platform from the Worker's optional push secrets. */

import type { PushDeps, PushPlatform, PushProvider } from "./types";
import { createApnsProvider } from "./apns";
import { createFcmProvider, parseServiceAccount } from "./fcm";
import { checkVapidKeys } from "./vapid";
import { createWebhookProvider } from "./webhook";
import { createWebPushProvider } from "./webpush";

/** A provider that refuses every send: its platform lacks (or has unusable) secrets. */
function unavailable(platform: PushPlatform, reason: string): PushProvider {
  return { platform, send: async () => ({ kind: "failed", reason }) };
}

/**
 * One provider per platform. A platform whose secrets are absent answers every send with
 * `{kind:"failed", reason:"<platform> is not configured"}`, so a deployment may use only some platforms;
 * present but unusable secrets give a reason saying what is wrong. Never throws.
 */
export function createProviders(env: Env, deps: PushDeps): Record<PushPlatform, PushProvider> {
  const environment: string = env.ENVIRONMENT;
  return {
    webpush: webPush(env, deps, environment),
    fcm: fcm(env, deps),
    apns: apns(env, deps),
    webhook: createWebhookProvider(deps, { environment }),
  };
}

function webPush(env: Env, deps: PushDeps, environment: string): PushProvider {
  const { VAPID_PUBLIC_KEY: publicKey, VAPID_PRIVATE_KEY: privateKey, VAPID_SUBJECT: subject } = env;
  if (!publicKey || !privateKey || !subject) return unavailable("webpush", "webpush is not configured");
  const keys = { publicKey, privateKey, subject };
  const check = checkVapidKeys(keys);
  if (!check.ok) return unavailable("webpush", `webpush is misconfigured: ${check.reason}`);
  return createWebPushProvider(keys, deps, { environment });
}

function fcm(env: Env, deps: PushDeps): PushProvider {
  if (!env.FCM_SERVICE_ACCOUNT) return unavailable("fcm", "fcm is not configured");
  const parsed = parseServiceAccount(env.FCM_SERVICE_ACCOUNT);
  if (!parsed.ok) return unavailable("fcm", `fcm is misconfigured: ${parsed.reason}`);
  return createFcmProvider(parsed.account, deps);
}

function apns(env: Env, deps: PushDeps): PushProvider {
  const { APNS_KEY_ID: keyId, APNS_TEAM_ID: teamId, APNS_PRIVATE_KEY: privateKey, APNS_BUNDLE_ID: bundleId } = env;
  if (!keyId || !teamId || !privateKey || !bundleId) return unavailable("apns", "apns is not configured");
  const mode = env.APNS_ENVIRONMENT ?? "production";
  if (mode !== "production" && mode !== "sandbox") {
    return unavailable("apns", `apns is misconfigured: APNS_ENVIRONMENT must be "production" or "sandbox"`);
  }
  return createApnsProvider({ keyId, teamId, privateKey, bundleId, environment: mode }, deps);
}
