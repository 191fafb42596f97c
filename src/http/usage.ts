import { Hono } from "hono";
import { z } from "zod";
import type { AppContext, AppEnv } from "./context";
import { requirePrincipal, tenantOf } from "./auth";
import { jsonBody } from "./body";
import { ApiError } from "./errors";
import { readQuery } from "./query";
import { audit } from "./audit";
import { knownTenant } from "./tenants";
import { tenantDb } from "../storage/shards";
import { dayOf, levelOf, quotasOf, setQuotas, usageByDay, usageTotals } from "../storage/usage";

/** Longest range one usage query covers (days). */
export const USAGE_RANGE_MAX_DAYS = 92;
const DAY_MS = 86_400_000;

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD").refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), "must be a real date");
const Range = z.object({ from: Day.optional(), to: Day.optional() });

/** The [from, to] days of a query: the last 30 days by default, at most USAGE_RANGE_MAX_DAYS. */
function rangeOf(c: AppContext): { from: string; to: string } {
  const q = readQuery(c, Range);
  const to = q.to ?? dayOf(Date.now());
  const from = q.from ?? dayOf(Date.parse(`${to}T00:00:00Z`) - 29 * DAY_MS);
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS + 1;
  if (days < 1) throw new ApiError("invalid_request", "from: must not be after to");
  if (days > USAGE_RANGE_MAX_DAYS) throw new ApiError("invalid_request", `to: a range covers at most ${USAGE_RANGE_MAX_DAYS} days`);
  return { from, to };
}

async function tenantUsage(env: Env, tenantId: string, range: { from: string; to: string }) {
  const db = tenantDb(env, tenantId);
  const [days, attachmentBytesStored, quotas] = await Promise.all([
    usageByDay(db, tenantId, range.from, range.to),
    levelOf(db, tenantId, "attachment_bytes_stored"),
    quotasOf(env.DB, tenantId),
  ]);
  return { tenantId, ...range, days, attachmentBytesStored, quotas };
}

const Quota = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional();
const QuotaChange = z.object({ users: Quota, attachmentBytes: Quota, messagesPerDay: Quota, openSockets: Quota });

/** A tenant's own usage (tenant key), or every tenant's totals (operator). */
export const usageRoutes = new Hono<AppEnv>().use(requirePrincipal("tenant", "operator")).get("/", async (c) => {
  const range = rangeOf(c);
  if (c.get("principal").kind !== "operator") return c.json(await tenantUsage(c.env, tenantOf(c), range));
  const totals = new Map<string, Record<string, number>>();
  for (const row of await usageTotals(c.env.DB, range.from, range.to)) {
    const metrics = totals.get(row.tenantId) ?? {};
    // Each presence shard keeps its own peak: the tenant's is their sum.
    const metric = row.metric.startsWith("sockets_peak") ? "sockets_peak" : row.metric;
    metrics[metric] = (metrics[metric] ?? 0) + row.value;
    totals.set(row.tenantId, metrics);
  }
  return c.json({ ...range, tenants: [...totals].map(([tenantId, metrics]) => ({ tenantId, metrics })) });
});

/** The operator's view of one tenant: usage and quotas. */
export const tenantQuotaRoutes = new Hono<AppEnv>()
  .use(requirePrincipal("operator"))
  .get("/:tenantId/usage", knownTenant, async (c) => c.json(await tenantUsage(c.env, c.get("tenant").id, rangeOf(c))))
  .get("/:tenantId/quotas", knownTenant, async (c) => c.json(await quotasOf(c.env.DB, c.get("tenant").id)))
  .put("/:tenantId/quotas", knownTenant, jsonBody(QuotaChange), async (c) => {
    const tenantId = c.get("tenant").id;
    const input = c.req.valid("json");
    const change = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
    const quotas = await setQuotas(c.env.DB, tenantId, change, Date.now());
    await audit(c, "quota.updated", tenantId, change, tenantId);
    return c.json(quotas);
  });
