import { Hono } from "hono";
import { z } from "zod";
import type { AppContext, AppEnv } from "./context";
import { forgetCredential, requirePrincipal, tenantOf } from "./auth";
import { ApiError } from "./errors";
import { readQuery } from "./query";
import { audit } from "./audit";
import { BOT_USER_ID, UserId } from "../protocol/ids";
import { CLOSE_CODES } from "../protocol/close-codes";
import { conversationsOfUser, deactivateUser, listUsers, reactivateUser, revokeUserTokens } from "../storage/user-admin";
import { tenantDb } from "../storage/shards";
import { presenceOf, roomStub } from "../objects";

export const USER_PAGE_MAX = 200;
export const USER_SEARCH_MAX = 50;
export const USER_QUERY_CHARS = 100;
/** Conversation objects told at once when a user's sockets are closed everywhere. */
const FANOUT_CHUNK = 50;

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(USER_PAGE_MAX).default(50),
  cursor: UserId.optional(),
  q: z.string().trim().min(1).max(USER_QUERY_CHARS).optional(),
});

const SearchQuery = z.object({
  q: z.string().trim().min(1).max(USER_QUERY_CHARS),
  limit: z.coerce.number().int().min(1).max(USER_SEARCH_MAX).default(20),
});

function userIdParam(c: AppContext): string {
  const id = c.req.param("userId") ?? "";
  if (!UserId.safeParse(id).success) throw new ApiError("invalid_request", "userId: must match [A-Za-z0-9_.-]{1,64}");
  if (id === BOT_USER_ID) throw new ApiError("invalid_request", "userId: the tenant's bot cannot be deactivated or revoked");
  return id;
}

/**
 * End every live session of a user at once: their conversation sockets and device channels close with
 * 4401. With `leave`, they also leave every group (the usual system messages; direct conversations keep
 * them, so the other person keeps the history). Returns how many conversations were told.
 */
async function endSessions(c: AppContext, userId: string, options: { leave: boolean }): Promise<number> {
  const tenantId = tenantOf(c);
  const conversations = await conversationsOfUser(tenantDb(c.env, tenantId), tenantId, userId);
  const actor = { tenantId, userId, deviceId: "admin" };
  for (let i = 0; i < conversations.length; i += FANOUT_CHUNK) {
    await Promise.all(
      conversations.slice(i, i + FANOUT_CHUNK).map(async (id) => {
        const room = roomStub(c.env, tenantId, id);
        if (options.leave && id.startsWith("g_")) await room.removeMember(actor, userId);
        await room.disconnectUser(userId, CLOSE_CODES.revoked, options.leave ? "this user was deactivated" : "credentials revoked");
      }),
    );
  }
  const presence = presenceOf(c.env, tenantId, userId);
  await presence.stub.closeUser(presence.address, userId, CLOSE_CODES.revoked, options.leave ? "this user was deactivated" : "credentials revoked");
  return conversations.length;
}

/** People administration (tenant key), and finding colleagues (tenant key or user token). */
export const peopleRoutes = new Hono<AppEnv>()
  .get("/", requirePrincipal("tenant"), async (c) => {
    const q = readQuery(c, ListQuery);
    const tenantId = tenantOf(c);
    const page = await listUsers(tenantDb(c.env, tenantId), tenantId, { q: q.q, after: q.cursor, limit: q.limit });
    return c.json({
      users: page.users.map((u) => ({ ...u, active: u.deactivatedAt === null })),
      nextCursor: page.nextCursor,
    });
  })
  .get("/search", requirePrincipal("tenant", "user"), async (c) => {
    const q = readQuery(c, SearchQuery);
    const tenantId = tenantOf(c);
    const page = await listUsers(tenantDb(c.env, tenantId), tenantId, { q: q.q, limit: q.limit, activeOnly: true });
    return c.json({ users: page.users.map((u) => ({ id: u.id, name: u.name, title: u.title, avatarUrl: u.avatarUrl })) });
  })
  .delete("/:userId", requirePrincipal("tenant"), async (c) => {
    const userId = userIdParam(c);
    const tenantId = tenantOf(c);
    const result = await deactivateUser(tenantDb(c.env, tenantId), tenantId, userId, Date.now());
    if (!result) throw new ApiError("not_found", "user not found");
    forgetCredential({ tenantId, userId });
    // Repeating the call finishes what an interrupted one left (leaving is idempotent).
    const conversations = await endSessions(c, userId, { leave: true });
    if (result.changed) await audit(c, "user.deactivated", userId, { conversations });
    return c.json({ id: userId, active: false, conversations });
  })
  .post("/:userId/reactivate", requirePrincipal("tenant"), async (c) => {
    const userId = userIdParam(c);
    const tenantId = tenantOf(c);
    const result = await reactivateUser(tenantDb(c.env, tenantId), tenantId, userId);
    if (!result) throw new ApiError("not_found", "user not found");
    forgetCredential({ tenantId, userId });
    if (result.changed) await audit(c, "user.reactivated", userId);
    return c.json({ id: userId, active: true });
  })
  .post("/:userId/tokens/revoke", requirePrincipal("tenant"), async (c) => {
    const userId = userIdParam(c);
    const tenantId = tenantOf(c);
    const generation = await revokeUserTokens(tenantDb(c.env, tenantId), tenantId, userId);
    if (generation === undefined) throw new ApiError("not_found", "user not found");
    forgetCredential({ tenantId, userId });
    const conversations = await endSessions(c, userId, { leave: false });
    await audit(c, "tokens.revoked", userId, { conversations });
    return c.json({ id: userId, revokedAt: Date.now() });
  });
