import { Hono } from "hono";
import type { AppContext, AppEnv } from "./context";
import { actorOf, requirePrincipal } from "./auth";
import { intParam } from "./query";
import { ApiError } from "./errors";
import { EXTERNAL_ID, isConversationId } from "../protocol/ids";
import { MESSAGE_KINDS } from "../domain/kinds";
import { compileQuery, snippetOf } from "../domain/search";
import { searchConversations, searchMessages } from "../storage/search";
import { tenantDb } from "../storage/shards";

export const SEARCH_LIMIT = { default: 20, max: 50 } as const;

/** A date filter: epoch milliseconds, or an ISO 8601 date or date-time. */
function dateParam(c: AppContext, name: string): number | undefined {
  const raw = c.req.query(name);
  if (raw === undefined || raw === "") return undefined;
  const value = /^\d{1,15}$/.test(raw) ? Number(raw) : /^\d{4}-\d{2}-\d{2}/.test(raw) ? Date.parse(raw) : Number.NaN;
  if (!Number.isFinite(value)) throw new ApiError("invalid_request", `${name}: must be epoch milliseconds or an ISO 8601 date`);
  return value;
}

function queryParam(c: AppContext) {
  const compiled = compileQuery(c.req.query("q") ?? "");
  if (!compiled.ok) throw new ApiError("invalid_request", compiled.message);
  return compiled;
}

/** Search over the caller's own conversations. */
export const searchRoutes = new Hono<AppEnv>()
  .use(requirePrincipal("user", "tenant"))
  .get("/messages", async (c) => {
    const query = queryParam(c);
    const actor = actorOf(c);
    const conversationId = c.req.query("conversationId");
    if (conversationId !== undefined && !isConversationId(conversationId)) throw new ApiError("invalid_request", "conversationId: is not a conversation id");
    const from = c.req.query("from");
    if (from !== undefined && !EXTERNAL_ID.test(from)) throw new ApiError("invalid_request", "from: must be a user id");
    const kind = c.req.query("kind");
    if (kind !== undefined && !MESSAGE_KINDS.some((known) => known === kind)) {
      throw new ApiError("invalid_request", `kind: must be one of ${MESSAGE_KINDS.join(", ")}`);
    }
    const limit = intParam(c, "limit", { min: 1, max: SEARCH_LIMIT.max }) ?? SEARCH_LIMIT.default;
    const cursor = intParam(c, "cursor", { min: 1, max: Number.MAX_SAFE_INTEGER });
    const page = await searchMessages(tenantDb(c.env, actor.tenantId), {
      tenantId: actor.tenantId,
      userId: actor.userId,
      trigram: query.trigram,
      grams: query.grams,
      conversationId,
      from,
      kind,
      after: dateParam(c, "after"),
      before: dateParam(c, "before"),
      cursor,
      limit,
    });
    const hits = page.hits.map((h) => ({ message: h.message, snippet: snippetOf(h.text, query.terms) }));
    return c.json({ hits, nextCursor: page.next === null ? null : String(page.next), capped: page.capped });
  })
  .get("/conversations", async (c) => {
    const query = queryParam(c);
    const actor = actorOf(c);
    const limit = intParam(c, "limit", { min: 1, max: SEARCH_LIMIT.max }) ?? SEARCH_LIMIT.default;
    const q = query.terms.join(" ");
    return c.json({ conversations: await searchConversations(tenantDb(c.env, actor.tenantId), actor.tenantId, actor.userId, q, limit) });
  });
