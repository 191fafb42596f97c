import { Hono } from "hono";
import { z } from "zod";
import type { AppContext, AppEnv } from "./context";
import { requirePrincipal } from "./auth";
import { ApiError } from "./errors";
import { readQuery } from "./query";
import { TenantId, UserId } from "../protocol/ids";
import { AUDIT_ACTIONS, listAudit, recordAudit, type ActorKind, type AuditAction } from "../storage/audit";

/**
 * Record an administrative change in the audit trail: who (from the verified principal), what, when,
 * from where (request id, country when Cloudflare knows it). Awaited: a change whose record failed to
 * write answers 500 and the caller retries, so the trail never silently misses an action.
 */
export async function audit(
  c: AppContext,
  action: AuditAction,
  target: string | null,
  details: Record<string, unknown> | null = null,
  tenantId?: string,
): Promise<void> {
  const p = c.get("principal");
  const cf = c.req.raw.cf;
  const country = cf && "country" in cf ? cf.country : undefined;
  await recordAudit(c.env.DB, {
    tenantId: tenantId ?? (p.kind === "operator" ? null : p.tenantId),
    ts: Date.now(),
    actorKind: p.kind,
    actorId: p.kind === "user" ? p.userId : null,
    action,
    target,
    details,
    requestId: c.get("requestId") ?? null,
    country: typeof country === "string" ? country : null,
  });
}

export const AUDIT_PAGE_MAX = 200;

const AuditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).default(50),
  cursor: z.coerce.number().int().min(1).optional(),
  after: z.coerce.number().int().min(0).optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  /** `operator`, `tenant` (the api key) or a user id. */
  actor: z.union([z.enum(["operator", "tenant"]), UserId]).optional(),
  /** Operator only: one tenant's trail. */
  tenant: TenantId.optional(),
});

/** The audit trail, newest first: a tenant's own (tenant key), or the operator's across tenants. */
export const auditRoutes = new Hono<AppEnv>().use(requirePrincipal("tenant", "operator")).get("/", async (c) => {
  const q = readQuery(c, AuditQuery);
  const p = c.get("principal");
  if (p.kind !== "operator" && q.tenant !== undefined) throw new ApiError("invalid_request", "tenant: only the operator may name a tenant");
  const actor: { actorKind?: ActorKind; actorId?: string } =
    q.actor === undefined ? {} : q.actor === "operator" || q.actor === "tenant" ? { actorKind: q.actor } : { actorKind: "user", actorId: q.actor };
  // The operator sees operator actions across tenants, or one tenant's whole trail; a tenant only its own.
  const operatorWide = p.kind === "operator" && q.tenant === undefined;
  const page = await listAudit(c.env.DB, {
    tenantId: p.kind === "operator" ? q.tenant : p.tenantId,
    actorKind: actor.actorKind ?? (operatorWide ? "operator" : undefined),
    actorId: actor.actorId,
    action: q.action,
    after: q.after,
    before: q.cursor,
    limit: q.limit,
  });
  return c.json({
    entries: page.entries.map((e) => ({
      id: e.id,
      ts: e.ts,
      tenantId: e.tenantId,
      actor: { kind: e.actorKind, id: e.actorId },
      action: e.action,
      target: e.target,
      details: e.details,
      requestId: e.requestId,
      country: e.country,
    })),
    nextCursor: page.nextCursor === null ? null : String(page.nextCursor),
  });
});
