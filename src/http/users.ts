import { Hono } from "hono";
import { z } from "zod";
import type { AppContext, AppEnv } from "./context";
import { requirePrincipal, tenantOf } from "./auth";
import { readJson } from "./body";
import { ApiError } from "./errors";
import { UserId } from "../protocol/ids";
import { LIMITS } from "../protocol/limits";
import { issueUserToken } from "../auth/credentials";
import { getUser, upsertUser } from "../storage/users";
import { tenantDb } from "../storage/shards";
import { userStatus } from "../storage/user-admin";
import { audit } from "./audit";
import { activeUserCount, quotasOf } from "../storage/usage";

const Profile = z.object({
  name: z.string().trim().min(1).max(LIMITS.userNameChars),
  title: z.string().max(LIMITS.userTitleChars).optional(),
  avatarUrl: z
    .string()
    .max(LIMITS.urlChars)
    .regex(/^https?:\/\//, "must be an http(s) URL")
    .optional(),
});

const TokenRequest = z.object({
  ttlSeconds: z.number().int().min(LIMITS.tokenTtlMinSeconds).max(LIMITS.tokenTtlMaxSeconds).optional(),
});

function userIdParam(c: AppContext): string {
  const id = c.req.param("userId") ?? "";
  if (!UserId.safeParse(id).success) throw new ApiError("invalid_request", "userId: must match [A-Za-z0-9_.-]{1,64}");
  return id;
}

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
  .put("/:userId", requirePrincipal("tenant"), async (c) => {
    const id = userIdParam(c);
    const profile = await readJson(c, Profile);
    await requireUserQuota(c, id);
    const now = Date.now();
    const user = await upsertUser(tenantDb(c.env, tenantOf(c)), tenantOf(c), id, profile, now);
    await audit(c, user.createdAt === now ? "user.created" : "user.updated", id, { fields: Object.keys(profile) });
    return c.json(user, 200);
  })
  .get("/:userId", requirePrincipal("tenant", "user"), async (c) => {
    const user = await getUser(tenantDb(c.env, tenantOf(c)), tenantOf(c), userIdParam(c));
    if (!user) throw new ApiError("not_found", "user not found");
    return c.json(user);
  })
  .post("/:userId/tokens", requirePrincipal("tenant"), async (c) => {
    const id = userIdParam(c);
    const input = await readJson(c, TokenRequest);
    const tenantId = tenantOf(c);
    const status = await userStatus(tenantDb(c.env, tenantId), tenantId, id);
    if (!status) throw new ApiError("not_found", "user not found");
    if (status.deactivated) throw new ApiError("forbidden", "this user has been deactivated: reactivate them first");
    const ttlSeconds = input.ttlSeconds ?? (Number(c.env.USER_TOKEN_TTL_SECONDS) || 86_400);
    const issued = await issueUserToken(c.env.TOKEN_SIGNING_KEY, { tenantId, userId: id, ttlSeconds, generation: status.tokenGeneration });
    await audit(c, "token.issued", id, { expiresAt: issued.expiresAt });
    return c.json(issued, 201);
  });
