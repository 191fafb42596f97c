import { Hono } from "hono";
import type { AppEnv } from "./context";
import { readLimited } from "./body";
import { ApiError } from "./errors";
import { ADAPTERS } from "../crm/adapters";
import type { VerifyContext } from "../crm/types";
import { deliverCards } from "../crm/routing";
import { integrationById, rememberDeliveries, seenDeliveries } from "../storage/integrations";
import { unseal } from "../auth/sealing";
import { secretsEqual, sha256Hex } from "../auth/credentials";

/** Largest webhook delivery accepted (a HubSpot batch of 100 events or 100 Salesforce notifications fits). */
export const HOOK_BODY_MAX_BYTES = 512 * 1024;

/**
 * CRM webhook ingress: no bearer token, the integration's own scheme. Order of checks: the
 * integration exists, the size (413 before any parsing), the URL token, the signature and timestamp
 * (401, nothing stored), the body (400), then replay protection and posting. Replies use the
 * sender's own format (SOAP Ack, Slack's "ok", JSON).
 */
export const hookRoutes = new Hono<AppEnv>().post("/:id/:token?", async (c) => {
  const integration = /^int_[0-9a-f]{32}$/.test(c.req.param("id")) ? await integrationById(c.env.DB, c.req.param("id")) : undefined;
  if (!integration) throw new ApiError("not_found", "no such hook");
  const adapter = ADAPTERS[integration.kind];
  if (Number(c.req.header("content-length") ?? "0") > HOOK_BODY_MAX_BYTES) return adapter.rejected(413, `body over ${HOOK_BODY_MAX_BYTES} bytes`);
  let body: Uint8Array;
  try {
    body = await readLimited(c.req.raw.body, HOOK_BODY_MAX_BYTES);
  } catch {
    return adapter.rejected(413, `body over ${HOOK_BODY_MAX_BYTES} bytes`);
  }
  if (integration.tokenHash) {
    const token = c.req.param("token") ?? "";
    if (!token || !(await secretsEqual(await sha256Hex(token), integration.tokenHash))) return adapter.rejected(401, "invalid token");
  }
  const context: VerifyContext = {};
  if (integration.secretCiphertext) {
    const secret = await unseal(c.env.TOKEN_SIGNING_KEY, integration.secretCiphertext);
    if (!secret) throw new Error(`integration ${integration.id}: its secret cannot be unsealed (was TOKEN_SIGNING_KEY rotated?)`);
    context.secret = secret;
  }
  if (integration.organizationId) context.organizationId = integration.organizationId;
  if (integration.hubspotVersions) context.hubspotVersions = JSON.parse(integration.hubspotVersions) as ("v1" | "v2" | "v3")[];
  const request = { method: c.req.method, url: c.req.url, headers: c.req.raw.headers, body, now: Date.now() };
  const verified = await adapter.verify(request, context);
  if (!verified.ok) return adapter.rejected(401, verified.reason);
  const parsed = adapter.parse(request);
  if (!parsed.ok) return adapter.rejected(400, parsed.reason);
  const seen = await seenDeliveries(c.env.DB, integration.id, parsed.events.map((e) => e.deliveryId));
  const fresh = parsed.events.filter((e) => !seen.has(e.deliveryId));
  await deliverCards(c.env, integration, fresh);
  await rememberDeliveries(c.env.DB, integration.id, fresh.map((e) => e.deliveryId), request.now);
  return adapter.accepted();
});
