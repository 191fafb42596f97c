import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import type { AppContext, AppEnv } from "./context";
import { actorOf, requirePrincipal } from "./auth";
import { jsonBody } from "./body";
import { intParam } from "./query";
import { audit } from "./audit";
import { ApiError, unwrap } from "./errors";
import { ClientId } from "../protocol/frames";
import { EXTERNAL_ID, isConversationId, UserId } from "../protocol/ids";
import { roomStub } from "../objects";
import { downloadAttachment, signedAttachmentUrl, uploadAttachment } from "./attachments";
import { LIMITS } from "../protocol/limits";
import { ROLES } from "../domain/membership";
import { describeIssue, Emoji } from "../domain/kinds";
import { listConversations } from "../storage/conversations";
import { unknownUserIds } from "../storage/users";
import { tenantDb } from "../storage/shards";
import { directConversationId, newGroupId } from "../domain/conversation-ids";
import { ACTOR_HEADER } from "../protocol/internal";

const CreateConversation = z.discriminatedUnion("type", [
  z.object({ type: z.literal("direct"), with: UserId }),
  z.object({
    type: z.literal("group"),
    name: z.string().trim().min(1).max(LIMITS.groupNameChars),
    members: z.array(UserId).max(LIMITS.userIdsPerCall).default([]),
  }),
]);
const AddMembers = z.object({ userIds: z.array(UserId).min(1).max(LIMITS.userIdsPerCall) });
const SetRole = z.object({ role: z.enum(ROLES) });
const SendMessage = z.object({ clientId: ClientId, kind: z.string(), body: z.unknown(), replyTo: z.number().int().min(1).optional() });
const EditMessage = z.object({ body: z.unknown() });
const CardAction = z.object({ action: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, "must be a short lowercase action name") });
const Decision = z.object({
  clientId: ClientId,
  decision: z.enum(["approve", "reject"]),
  comment: z.string().max(2000).optional(),
});

/** The `:seq` path parameter; anything but a positive integer is not a message. */
function seqParam(c: AppContext): number {
  const raw = c.req.param("seq") ?? "";
  if (!/^[1-9]\d{0,14}$/.test(raw)) throw new ApiError("not_found", "message not found");
  return Number(raw);
}
const MarkRead = z.object({ seq: z.number().int().min(0) });
const Settings = z.object({ muted: z.boolean() });

/** The `:userId` of a member route must be a user id (400, before the body is read). */
const memberParam = createMiddleware<AppEnv>(async (c, next) => {
  if (!EXTERNAL_ID.test(c.req.param("userId") ?? "")) throw new ApiError("invalid_request", "userId: must match [A-Za-z0-9_.-]{1,64}");
  await next();
});

/** The conversation's object, addressed by tenant and id; an id that is not one of ours is simply not found. */
function room(c: AppContext) {
  const id = c.req.param("id") ?? "";
  if (!isConversationId(id)) throw new ApiError("not_found", "conversation not found");
  return roomStub(c.env, actorOf(c).tenantId, id);
}

async function requireKnownUsers(c: AppContext, ids: readonly string[]): Promise<void> {
  const unknown = await unknownUserIds(tenantDb(c.env, actorOf(c).tenantId), actorOf(c).tenantId, ids);
  if (unknown.length > 0) throw new ApiError("invalid_request", `userIds: unknown user ${unknown.slice(0, 5).join(", ")}`);
}

async function reaction(c: AppContext, add: boolean) {
  const emoji = Emoji.safeParse(c.req.param("emoji") ?? "");
  if (!emoji.success) throw new ApiError("invalid_request", describeIssue(emoji.error, "emoji"));
  const result = unwrap(await room(c).react(actorOf(c), seqParam(c), emoji.data, add));
  return c.json({ seq: seqParam(c), reactions: result.reactions });
}

/** Conversations and messages, for a user or for the tenant backend acting as its bot. */
export const conversationRoutes = new Hono<AppEnv>()
  .use(requirePrincipal("user", "tenant"))
  .post("/", jsonBody(CreateConversation), async (c) => {
    const input = c.req.valid("json");
    const actor = actorOf(c);
    if (input.type === "direct") {
      if (input.with === actor.userId) throw new ApiError("invalid_request", "with: cannot open a direct conversation with yourself");
      const unknown = await unknownUserIds(tenantDb(c.env, actor.tenantId), actor.tenantId, [input.with]);
      if (unknown.length > 0) throw new ApiError("not_found", `with: user ${input.with} not found`);
      const id = await directConversationId(actor.tenantId, actor.userId, input.with);
      const pair: [string, string] = [actor.userId, input.with];
      const result = unwrap(
        await roomStub(c.env, actor.tenantId, id).openDirect({ tenantId: actor.tenantId, conversationId: id, members: pair, actor: actor.userId }),
      );
      return c.json(result.conversation, result.created ? 201 : 200);
    }
    const members = [...new Set(input.members)].filter((m) => m !== actor.userId);
    if (members.length + 1 > LIMITS.membersPerGroup) throw new ApiError("invalid_request", `members: at most ${LIMITS.membersPerGroup}`);
    await requireKnownUsers(c, members);
    const id = newGroupId();
    const view = unwrap(
      await roomStub(c.env, actor.tenantId, id).createGroup({
        tenantId: actor.tenantId,
        conversationId: id,
        name: input.name,
        owner: actor.userId,
        members,
      }),
    );
    await audit(c, "conversation.created", id, { type: "group", members: members.length + 1 });
    return c.json(view, 201);
  })
  .get("/", async (c) => {
    const actor = actorOf(c);
    const limit = intParam(c, "limit", { min: 1, max: LIMITS.conversationListMax }) ?? LIMITS.conversationListDefault;
    return c.json({ conversations: await listConversations(tenantDb(c.env, actor.tenantId), actor.tenantId, actor.userId, limit) });
  })
  .get("/:id", async (c) => c.json(unwrap(await room(c).getConversation(actorOf(c)))))
  .post("/:id/members", jsonBody(AddMembers), async (c) => {
    const input = c.req.valid("json");
    await requireKnownUsers(c, input.userIds);
    const view = unwrap(await room(c).addMembers(actorOf(c), input.userIds));
    await audit(c, "member.added", c.req.param("id"), { userIds: input.userIds });
    return c.json(view);
  })
  .delete("/:id/members/:userId", memberParam, async (c) => {
    const userId = c.req.param("userId");
    unwrap(await room(c).removeMember(actorOf(c), userId));
    await audit(c, "member.removed", c.req.param("id"), { userId });
    return c.body(null, 204);
  })
  .put("/:id/members/:userId", memberParam, jsonBody(SetRole), async (c) => {
    const userId = c.req.param("userId");
    const input = c.req.valid("json");
    const view = unwrap(await room(c).setRole(actorOf(c), userId, input.role));
    await audit(c, "member.role_changed", c.req.param("id"), { userId, role: input.role });
    return c.json(view);
  })
  .post("/:id/messages", jsonBody(SendMessage), async (c) => {
    const input = c.req.valid("json");
    const result = unwrap(await room(c).sendMessage(actorOf(c), input));
    return c.json(result.message, result.status === "created" ? 201 : 200);
  })
  .get("/:id/messages", async (c) => {
    const after = intParam(c, "after", { min: 0, max: Number.MAX_SAFE_INTEGER });
    const before = intParam(c, "before", { min: 0, max: Number.MAX_SAFE_INTEGER });
    const limit = intParam(c, "limit", { min: 1, max: LIMITS.historyPageMax }) ?? LIMITS.historyPageDefault;
    return c.json({ messages: unwrap(await room(c).history(actorOf(c), { after, before, limit })) });
  })
  .patch("/:id/messages/:seq", jsonBody(EditMessage), async (c) => {
    const input = c.req.valid("json");
    return c.json(unwrap(await room(c).editMessage(actorOf(c), seqParam(c), input.body)));
  })
  .delete("/:id/messages/:seq", async (c) => {
    unwrap(await room(c).hideMessage(actorOf(c), seqParam(c)));
    return c.body(null, 204);
  })
  .post("/:id/messages/:seq/recall", async (c) => {
    const actor = actorOf(c);
    const message = unwrap(await room(c).recallMessage(actor, seqParam(c)));
    // Recalling someone else's message is an administrator's act (group admins, the tenant key).
    if (message.sender !== actor.userId) await audit(c, "message.recalled_by_admin", c.req.param("id"), { seq: message.seq, sender: message.sender });
    return c.json(message);
  })
  .get("/:id/messages/:seq/edits", async (c) => c.json(unwrap(await room(c).editHistory(actorOf(c), seqParam(c)))))
  .get("/:id/messages/:seq/receipts", async (c) => c.json(unwrap(await room(c).receipts(actorOf(c), seqParam(c)))))
  .put("/:id/messages/:seq/reactions/:emoji", async (c) => reaction(c, true))
  .delete("/:id/messages/:seq/reactions/:emoji", async (c) => reaction(c, false))
  .post("/:id/messages/:seq/decision", jsonBody(Decision), async (c) => {
    const input = c.req.valid("json");
    const result = unwrap(await room(c).decide(actorOf(c), seqParam(c), input));
    return c.json({ decision: result.decision.message, request: result.request }, result.decision.status === "created" ? 201 : 200);
  })
  .post("/:id/attachments", async (c) => uploadAttachment(c, room(c), c.req.param("id")))
  .get("/:id/attachments/:attachmentId", async (c) => downloadAttachment(c, room(c), c.req.param("id")))
  .get("/:id/attachments/:attachmentId/url", async (c) => signedAttachmentUrl(c, room(c), c.req.param("id")))
  .post("/:id/messages/:seq/actions", jsonBody(CardAction), async (c) => {
    const input = c.req.valid("json");
    unwrap(await room(c).cardAction(actorOf(c), seqParam(c), input.action));
    return c.json({ seq: seqParam(c), action: input.action }, 202);
  })
  .post("/:id/read", jsonBody(MarkRead), async (c) => {
    const input = c.req.valid("json");
    unwrap(await room(c).markRead(actorOf(c), input.seq));
    return c.body(null, 204);
  })
  .put("/:id/settings", jsonBody(Settings), async (c) => {
    const input = c.req.valid("json");
    return c.json(unwrap(await room(c).setMuted(actorOf(c), input.muted)));
  })
  .get("/:id/ws", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError("invalid_request", "this endpoint needs a WebSocket upgrade (Upgrade: websocket)");
    }
    const after = intParam(c, "after", { min: 0, max: Number.MAX_SAFE_INTEGER }) ?? 0;
    const device = c.req.query("device") ?? "default";
    if (!EXTERNAL_ID.test(device)) throw new ApiError("invalid_request", "device: must match [A-Za-z0-9_.-]{1,64}");
    const actor = actorOf(c, device);
    // A fresh request: nothing the client sent reaches the object except what the Worker chose.
    const forward = new Request(`https://room.internal/ws?after=${after}`, {
      headers: { Upgrade: "websocket", [ACTOR_HEADER]: JSON.stringify({ ...actor, requestId: c.get("requestId") }) },
    });
    return room(c).fetch(forward);
  });
