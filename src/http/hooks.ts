import { Hono, type Context } from "hono";
import type { AppEnv } from "./context";
import { limitedBody } from "./body";
import { ApiError } from "./errors";
import { ADAPTERS } from "../crm/adapters";
import { HUBSPOT_VERSIONS, type RejectionStatus, type VerifyContext } from "../crm/types";
import { parseStoredMembers } from "../protocol/json";
import { deliverCards, type DeliveryResult } from "../crm/routing";
import { claimDeliveries, completeDeliveries, integrationById, releaseDeliveries } from "../storage/integrations";
import { unseal } from "../auth/sealing";
import { secretsEqual } from "../auth/credentials";
import { sha256Hex } from "../lib/hash";
import type { IntegrationRow } from "../storage/integrations";
import { recordEvents } from "../storage/events";
import { addUsage } from "../storage/usage";
import { tenantDb } from "../storage/shards";
import { logLine } from "../log";

/**
 * Report a delivery's outcome: a reporting-log line, an event the tenant can read (GET /v1/events), and
 * the posted events in the day's usage. Reasons are ours (never the sender's body).
 */
async function report(
  env: Env,
  integration: IntegrationRow,
  outcome: { status: number; reason?: string; events?: number; posted?: number },
): Promise<void> {
  const data = { integrationId: integration.id, kind: integration.kind, status: outcome.status, reason: outcome.reason ?? null, events: outcome.events ?? 0, posted: outcome.posted ?? 0 };
  const accepted = outcome.status < 300;
  logLine("crm.delivery", { tenantId: integration.tenantId, outcome: accepted ? "accepted" : "refused", ...data });
  const now = Date.now();
  await Promise.all([
    recordEvents(env.DB, [{ tenantId: integration.tenantId, ts: now, type: "crm.delivery", data: { outcome: accepted ? "accepted" : "refused", ...data } }]),
    outcome.posted ? addUsage(tenantDb(env, integration.tenantId), integration.tenantId, now, { crm_events: outcome.posted }) : undefined,
  ]);
}

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
  const answer = await ingest(c, integration);
  await report(c.env, integration, answer.report);
  return answer.response;
});

/** The delivery itself; returns the answer for the sender and what to report of it. */
async function ingest(
  c: Context<AppEnv>,
  integration: IntegrationRow,
): Promise<{ response: Response; report: { status: number; reason?: string; events?: number; posted?: number } }> {
  const adapter = ADAPTERS[integration.kind];
  const refuse = (status: RejectionStatus, reason: string, events = 0) => ({ response: adapter.rejected(status, reason), report: { status, reason, events } });
  const body = await limitedBody(c, HOOK_BODY_MAX_BYTES);
  if (!body) return refuse(413, `body over ${HOOK_BODY_MAX_BYTES} bytes`);
  if (integration.tokenHash) {
    const token = c.req.param("token") ?? "";
    if (!token || !(await secretsEqual(await sha256Hex(token), integration.tokenHash))) return refuse(401, "invalid token");
  }
  const context: VerifyContext = {};
  if (integration.secretCiphertext) {
    const secret = await unseal(c.env.TOKEN_SIGNING_KEY, integration.secretCiphertext);
    if (!secret) throw new Error(`integration ${integration.id}: its secret cannot be unsealed (was TOKEN_SIGNING_KEY rotated?)`);
    context.secret = secret;
  }
  if (integration.organizationId) context.organizationId = integration.organizationId;
  if (integration.hubspotVersions) context.hubspotVersions = parseStoredMembers(integration.hubspotVersions, HUBSPOT_VERSIONS, "integrations.hubspot_versions");
  const request = { method: c.req.method, url: c.req.url, headers: c.req.raw.headers, body, now: Date.now() };
  const verified = await adapter.verify(request, context);
  if (!verified.ok) return refuse(401, verified.reason);
  const parsed = await adapter.parse(request);
  if (!parsed.ok) return refuse(400, parsed.reason);

  // Claim first, post second: of identical deliveries arriving together, one holds each event.
  const claimed = await claimDeliveries(c.env.DB, integration.id, parsed.events.map((e) => e.deliveryId), request.now);
  const fresh = parsed.events.filter((e) => claimed.has(e.deliveryId));
  let result: DeliveryResult;
  try {
    result = await deliverCards(c.env, integration, fresh);
  } catch (err) {
    // Nothing is known about the events left: give them back so the sender's retry posts them.
    await releaseDeliveries(c.env.DB, integration.id, [...claimed]);
    throw err;
  }
  await completeDeliveries(c.env.DB, integration.id, result.records);
  const handled = new Set(result.records.map((r) => r.deliveryId));
  await releaseDeliveries(c.env.DB, integration.id, [...claimed].filter((id) => !handled.has(id)));
  const posted = result.records.filter((r) => r.outcome !== "failed").length;
  const events = parsed.events.length;
  if (result.stopped) {
    const refused = refuse(result.stopped.status, result.stopped.reason, events);
    if (result.stopped.retryAfterSeconds !== undefined) refused.response.headers.set("Retry-After", String(result.stopped.retryAfterSeconds));
    return { response: refused.response, report: { ...refused.report, posted } };
  }
  const failed = result.records.find((r) => r.outcome === "failed");
  if (failed) {
    const refused = refuse(400, `event ${failed.deliveryId}: ${failed.detail ?? "could not be posted"}`, events);
    return { response: refused.response, report: { ...refused.report, posted } };
  }
  return { response: adapter.accepted(), report: { status: 200, events, posted } };
}
