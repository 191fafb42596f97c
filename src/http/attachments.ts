import { Hono } from "hono";
import { z } from "zod";
import type { AppContext, AppEnv } from "./context";
import { actorOf } from "./auth";
import { limitedBody } from "./body";
import { ApiError, unwrap } from "./errors";
import { ATTACHMENT_HARD_MAX_BYTES, imageSize, resolveContentType } from "../domain/files";
import { attachmentKey, ATTACHMENT_ID, newAttachmentId } from "../storage/files";
import { effectiveSettings } from "../storage/tenant-settings";
import type { ConversationRoomRpc as RoomRpc } from "../objects";
import { roomStub } from "../objects";
import { isConversationId } from "../protocol/ids";
import type { AttachmentRecord } from "../domain/model";
import { b64urlEncode, base64Decode, utf8, utf8Decode } from "../lib/encoding";
import { constantTimeEqual, hmacSha256 } from "../lib/hash";
import { addUsage, adjustLevel, levelOf, quotasOf } from "../storage/usage";
import { tenantDb } from "../storage/shards";

/**
 * Lifetime of a signed download URL. Each download also checks that the link's holder is still a
 * member who may see the attachment, so leaving (or a recall) ends the link at once; the lifetime only
 * bounds how long a copied link works for someone else while its holder stays a member.
 */
export const SIGNED_URL_TTL_SECONDS = 300;

/** Upload the request body as an attachment of the conversation (a member only; limits per tenant; type from the bytes). */
export async function uploadAttachment(c: AppContext, room: RoomRpc, conversationId: string) {
  const actor = actorOf(c);
  const name = (c.req.query("name") ?? "").trim();
  // eslint-disable-next-line no-control-regex
  if (!name || name.length > 255 || /[\u0000-\u001f\u007f/\\]/.test(name)) {
    throw new ApiError("invalid_request", "name: give the file name (1-255 characters, no slashes or control characters) as ?name=");
  }
  // Membership first: a non-member learns nothing, and nothing is stored.
  unwrap(await room.getConversation(actor));
  const settings = await effectiveSettings(c.env.DB, actor.tenantId);
  const max = Math.min(settings.attachmentMaxBytes, ATTACHMENT_HARD_MAX_BYTES);
  if (Number(c.req.header("content-length") ?? "0") > max) throw new ApiError("too_large", `body: attachments are at most ${max} bytes`);
  const bytes = await limitedBody(c, max);
  if (!bytes) throw new ApiError("too_large", `body: must be at most ${max} bytes`);
  if (bytes.byteLength === 0) throw new ApiError("invalid_request", "body: the file is empty");
  await requireStorageQuota(c.env, actor.tenantId, bytes.byteLength);
  const type = resolveContentType(c.req.header("content-type") ?? "", bytes);
  if (!type.ok) throw new ApiError("invalid_request", type.reason);
  if (settings.attachmentTypes && !settings.attachmentTypes.includes(type.contentType)) {
    throw new ApiError("invalid_request", `Content-Type: ${type.contentType} is not accepted by this tenant`);
  }
  const id = newAttachmentId();
  const size = type.contentType.startsWith("image/") ? imageSize(bytes, type.contentType) : undefined;
  await c.env.FILES.put(attachmentKey(actor.tenantId, conversationId, id), bytes, {
    httpMetadata: { contentType: type.contentType },
    customMetadata: { name, uploader: actor.userId },
  });
  const upload = { id, name, size: bytes.byteLength, contentType: type.contentType, createdAt: Date.now(), ...(size ?? {}) };
  const registered = await room.registerAttachment(actor, upload);
  if (!registered.ok) {
    await c.env.FILES.delete(attachmentKey(actor.tenantId, conversationId, id));
    throw ApiError.from(registered);
  }
  const db = tenantDb(c.env, actor.tenantId);
  await Promise.all([
    adjustLevel(db, actor.tenantId, "attachment_bytes_stored", bytes.byteLength),
    addUsage(db, actor.tenantId, upload.createdAt, { attachment_bytes_uploaded: bytes.byteLength }),
  ]);
  return c.json(publicView(registered.value), 201);
}

/** An upload may not take the tenant's stored attachment bytes over its quota. */
async function requireStorageQuota(env: Env, tenantId: string, size: number): Promise<void> {
  const { attachmentBytes: ceiling } = await quotasOf(env.DB, tenantId);
  if (ceiling === null) return;
  const stored = await levelOf(tenantDb(env, tenantId), tenantId, "attachment_bytes_stored");
  if (stored + size > ceiling) {
    throw new ApiError("quota_exceeded", `quota attachmentBytes: this tenant stores ${stored} of ${ceiling} bytes; the file has ${size}`);
  }
}

/** Stream an attachment to a member of its conversation. */
export async function downloadAttachment(c: AppContext, room: RoomRpc, conversationId: string) {
  const actor = actorOf(c);
  const id = c.req.param("attachmentId") ?? "";
  if (!ATTACHMENT_ID.test(id)) throw new ApiError("not_found", "attachment not found");
  const record = unwrap(await room.attachmentFor(actor, id));
  return serveFile(c.env, actor.tenantId, conversationId, record);
}

/** A short-lived URL that downloads the attachment without a bearer token (for <img src>). */
export async function signedAttachmentUrl(c: AppContext, room: RoomRpc, conversationId: string) {
  const actor = actorOf(c);
  const id = c.req.param("attachmentId") ?? "";
  if (!ATTACHMENT_ID.test(id)) throw new ApiError("not_found", "attachment not found");
  unwrap(await room.attachmentFor(actor, id));
  const expiresAt = Date.now() + SIGNED_URL_TTL_SECONDS * 1000;
  const claims = b64urlEncode(utf8(JSON.stringify({ t: actor.tenantId, c: conversationId, a: id, u: actor.userId, e: expiresAt })));
  const token = `${claims}.${await hmac(c.env.TOKEN_SIGNING_KEY, `file:${claims}`)}`;
  return c.json({ url: new URL(`/v1/files/${token}`, c.req.url).toString(), expiresAt });
}

const LinkClaims = z.object({ t: z.string(), c: z.string(), a: z.string(), u: z.string(), e: z.number() });

/** GET /v1/files/:token — the signed-URL download. */
export const fileRoutes = new Hono<AppEnv>().get("/:token", async (c) => {
  const [claims, signature] = (c.req.param("token") ?? "").split(".");
  if (!claims || !signature || !(await verifyHmac(c.env.TOKEN_SIGNING_KEY, `file:${claims}`, signature))) {
    throw new ApiError("unauthorized", "invalid file link");
  }
  const bytes = base64Decode(claims);
  let decoded: unknown;
  try {
    decoded = bytes && JSON.parse(utf8Decode(bytes));
  } catch {
    throw new ApiError("unauthorized", "invalid file link");
  }
  // Links signed before they named their holder fail here: they lived 300 s at most.
  const parsed = LinkClaims.safeParse(decoded);
  if (!parsed.success) throw new ApiError("unauthorized", "invalid file link");
  const { t: tenantId, c: conversationId, a: attachmentId, u: userId, e: expiresAt } = parsed.data;
  if (expiresAt < Date.now()) throw new ApiError("unauthorized", "this file link has expired");
  if (!isConversationId(conversationId) || !ATTACHMENT_ID.test(attachmentId)) throw new ApiError("not_found", "attachment not found");
  // Access as the holder, now: a holder who left, or an attachment recalled since, is simply not found.
  const record = unwrap(await roomStub(c.env, tenantId, conversationId).attachmentFor({ tenantId, userId, deviceId: "link" }, attachmentId));
  return serveFile(c.env, tenantId, conversationId, record);
});

async function serveFile(env: Env, tenantId: string, conversationId: string, record: AttachmentRecord): Promise<Response> {
  const object = await env.FILES.get(attachmentKey(tenantId, conversationId, record.id));
  if (!object) throw new ApiError("not_found", "attachment not found");
  const inline = record.contentType.startsWith("image/");
  return new Response(object.body, {
    headers: {
      "Content-Type": record.contentType,
      "Content-Length": String(object.size),
      "Content-Disposition": `${inline ? "inline" : "attachment"}; filename*=UTF-8''${encodeURIComponent(record.name)}`,
      "X-Content-Type-Options": "nosniff",
      "Cache-Control": "private, max-age=300",
    },
  });
}

function publicView(a: AttachmentRecord) {
  const view: Record<string, unknown> = { id: a.id, name: a.name, size: a.size, contentType: a.contentType };
  if (a.width !== undefined) view.width = a.width;
  if (a.height !== undefined) view.height = a.height;
  return view;
}

async function hmac(key: string, data: string): Promise<string> {
  return b64urlEncode(await hmacSha256(key, data));
}

async function verifyHmac(key: string, data: string, signature: string): Promise<boolean> {
  const given = base64Decode(signature);
  return given !== undefined && constantTimeEqual(await hmacSha256(key, data), given);
}
