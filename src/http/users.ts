import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import type { AppContext, AppEnv } from "./context";
import { requirePrincipal, tenantOf } from "./auth";
import { jsonBody } from "./body";
import { ApiError } from "./errors";
import { BOT_USER_ID, UserId } from "../protocol/ids";
import { LIMITS } from "../protocol/limits";
import { issueUserToken } from "../auth/credentials";
import { CrmIdTaken, getUser, upsertUser, type CrmIdentity } from "../storage/users";
import { crmKeyOf } from "../crm/owners";
import { tenantDb } from "../storage/shards";
import { userStatus } from "../storage/user-admin";
import { audit } from "./audit";
import { activeUserCount, quotasOf } from "../storage/usage";

/** CRM systems per person (hubspot, salesforce, or the tenant's own names). */
export const CRM_SYSTEMS_PER_USER = 10;
/** Longest CRM id. */
export const CRM_ID_CHARS = 128;

const CrmId = z
  .union([z.string().trim().regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces").min(1).max(CRM_ID_CHARS), z.number().int().nonnegative().transform(String)]);

/** `crm: {system: id}`: each id in comparable form too; a Salesforce id must be a valid 15 or 18-character id. */
const CrmIds = z
  .unknown()
  // A record schema silently drops a "__proto__" key; a name that is not a system name is refused, like any other.
  .refine((raw) => typeof raw !== "object" || raw === null || !Object.hasOwn(raw, "__proto__"), "CRM system names match [a-z][a-z0-9_-]{0,31}")
  .pipe(z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "CRM system names match [a-z][a-z0-9_-]{0,31}"), CrmId))
  .superRefine((ids, ctx) => {
    if (Object.keys(ids).length > CRM_SYSTEMS_PER_USER) ctx.addIssue({ code: "custom", message: `at most ${CRM_SYSTEMS_PER_USER} CRM systems` });
  })
  .transform((ids, ctx): CrmIdentity[] => {
    const out: CrmIdentity[] = [];
    for (const [system, crmId] of Object.entries(ids)) {
      const crmKey = crmKeyOf(system, crmId);
      if (crmKey === undefined) {
        ctx.addIssue({ code: "custom", path: [system], message: "must be a 15 or 18-character Salesforce id" });
        return z.NEVER;
      }
      out.push({ system, crmId, crmKey });
    }
    return out;
  });

const Profile = z.object({
  name: z.string().trim().min(1).max(LIMITS.userNameChars),
  title: z.string().max(LIMITS.userTitleChars).optional(),
  avatarUrl: z
    .string()
    .max(LIMITS.urlChars)
    .regex(/^https?:\/\//, "must be an http(s) URL")
    .optional(),
  crm: CrmIds.optional(),
  crmAdmin: z.boolean().optional(),
});

const TokenRequest = z.object({
  ttlSeconds: z.number().int().min(LIMITS.tokenTtlMinSeconds).max(LIMITS.tokenTtlMaxSeconds).optional(),
});

/** The `:userId` path parameter must be a user id (400, before the body is read). */
const userIdParam = createMiddleware<AppEnv>(async (c, next) => {
  if (!UserId.safeParse(c.req.param("userId") ?? "").success) throw new ApiError("invalid_request", "userId: must match [A-Za-z0-9_.-]{1,64}");
  await next();
});

/** A new person may join only under the tenant's users quota (an update of a known one always may). */
async function requireUserQuota(c: AppContext, id: string): Promise<void> {
  const tenantId = tenantOf(c);
  const { users: ceiling } = await quotasOf(c.env.DB, tenantId);
  if (ceiling === null) return;
  const db = tenantDb(c.env, tenantId);
  if (await getUser(db, tenantId, id)) return;
  if ((await activeUserCount(db, tenantId)) >= ceiling) {
    throw new ApiError("quota_exceeded", `quota users: this tenant may have at most ${ceiling} active people`);
  }
}

/** Users of a tenant, managed by its backend; readable by the tenant's own users. */
export const userRoutes = new Hono<AppEnv>()
  .put("/:userId", requirePrincipal("tenant"), userIdParam, jsonBody(Profile), async (c) => {
    const id = c.req.param("userId");
    const profile = c.req.valid("json");
    if (id === BOT_USER_ID && (profile.crm?.length || profile.crmAdmin)) {
      throw new ApiError("invalid_request", "crm: the tenant's bot is not a person of the CRM");
    }
    await requireUserQuota(c, id);
    const now = Date.now();
    let user;
    try {
      user = await upsertUser(tenantDb(c.env, tenantOf(c)), tenantOf(c), id, profile, now);
    } catch (err) {
      if (err instanceof CrmIdTaken) throw new ApiError("conflict", err.message);
      throw err;
    }
    await audit(c, user.createdAt === now ? "user.created" : "user.updated", id, { fields: Object.keys(profile) });
    return c.json(user, 200);
  })
  .get("/:userId", requirePrincipal("tenant", "user"), userIdParam, async (c) => {
    const user = await getUser(tenantDb(c.env, tenantOf(c)), tenantOf(c), c.req.param("userId"));
    if (!user) throw new ApiError("not_found", "user not found");
    return c.json(user);
  })
  .post("/:userId/tokens", requirePrincipal("tenant"), userIdParam, jsonBody(TokenRequest), async (c) => {
    const id = c.req.param("userId");
    const input = c.req.valid("json");
    const tenantId = tenantOf(c);
    const status = await userStatus(tenantDb(c.env, tenantId), tenantId, id);
    if (!status) throw new ApiError("not_found", "user not found");
    if (status.deactivated) throw new ApiError("forbidden", "this user has been deactivated: reactivate them first");
    const ttlSeconds = input.ttlSeconds ?? (Number(c.env.USER_TOKEN_TTL_SECONDS) || 86_400);
    const issued = await issueUserToken(c.env.TOKEN_SIGNING_KEY, { tenantId, userId: id, ttlSeconds, generation: status.tokenGeneration });
    await audit(c, "token.issued", id, { expiresAt: issued.expiresAt });
    return c.json(issued, 201);
  });
