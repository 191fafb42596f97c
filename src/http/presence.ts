import { Hono } from "hono";
import { z } from "zod";
import type { AppContext, AppEnv } from "./context";
import { actorOf, requirePrincipal } from "./auth";
import { jsonBody } from "./body";
import { ApiError, unwrap } from "./errors";
import { EXTERNAL_ID, UserId } from "../protocol/ids";
import { ACTOR_HEADER } from "../protocol/internal";
import { presenceOf, presenceStub } from "../objects";
import { presenceShard, shardCount } from "../domain/notify";
import { PUSH_PLATFORMS, type PushTarget } from "../push/types";
import { checkWebPushSubscription } from "../push/webpush";
import { checkOutboundUrl } from "../net/url-safety";
import { isPlausibleFcmToken } from "../push/fcm";
import { isPlausibleApnsToken } from "../push/apns";
import { deliveriesOf } from "../storage/push-deliveries";

/** Most user ids in one presence query. */
export const PRESENCE_QUERY_MAX = 200;

const RegisterDevice = z.object({
  id: z.string().regex(EXTERNAL_ID, "must match [A-Za-z0-9_.-]{1,64}"),
  platform: z.enum(PUSH_PLATFORMS),
  token: z.string().min(1).max(4096).optional(),
  subscription: z.unknown().optional(),
  endpoint: z.string().max(2048).optional(),
});

/** The push target of a registration, validated for its platform; 400 naming the field otherwise. */
function targetOf(input: z.infer<typeof RegisterDevice>, environment: string): PushTarget {
  switch (input.platform) {
    case "webpush": {
      const checked = checkWebPushSubscription(input.subscription, environment);
      if (!checked.ok) throw new ApiError("invalid_request", `subscription: ${checked.reason}`);
      return { platform: "webpush", subscription: checked.subscription };
    }
    case "fcm":
      if (!input.token || !isPlausibleFcmToken(input.token)) throw new ApiError("invalid_request", "token: must be an FCM registration token");
      return { platform: "fcm", token: input.token };
    case "apns":
      if (!input.token || !isPlausibleApnsToken(input.token)) {
        throw new ApiError("invalid_request", "token: must be an APNs device token (hex)");
      }
      return { platform: "apns", token: input.token.toLowerCase() };
    case "webhook": {
      if (!input.endpoint) throw new ApiError("invalid_request", "endpoint: required for platform webhook");
      const checked = checkOutboundUrl(input.endpoint, environment);
      if (!checked.ok) throw new ApiError("invalid_request", `endpoint: ${checked.reason}`);
      return { platform: "webhook", endpoint: input.endpoint };
    }
  }
}

function deviceIdParam(c: AppContext): string {
  const id = c.req.param("id") ?? "";
  if (!EXTERNAL_ID.test(id)) throw new ApiError("not_found", "device not found");
  return id;
}

const user = requirePrincipal("user");

/** Device channels, presence and push devices: a user's own. Mounted at /v1, so each route names its guard. */
export const presenceRoutes = new Hono<AppEnv>()
  .get("/ws", user, async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError("invalid_request", "this endpoint needs a WebSocket upgrade (Upgrade: websocket)");
    }
    const deviceId = c.req.query("device");
    if (!deviceId || !EXTERNAL_ID.test(deviceId)) throw new ApiError("invalid_request", "device: required, must match [A-Za-z0-9_.-]{1,64}");
    const actor = actorOf(c, deviceId);
    const { stub, address } = presenceOf(c.env, actor.tenantId, actor.userId);
    // A fresh request: only the identity the Worker verified reaches the presence object.
    const forward = new Request("https://presence.internal/ws", {
      headers: { Upgrade: "websocket", [ACTOR_HEADER]: JSON.stringify({ ...actor, shard: address.shard, requestId: c.get("requestId") }) },
    });
    return stub.fetch(forward);
  })
  .get("/presence", user, async (c) => {
    const raw = c.req.query("users") ?? "";
    const users = [...new Set(raw.split(",").map((u) => u.trim()).filter(Boolean))];
    if (users.length === 0) throw new ApiError("invalid_request", "users: give a comma-separated list of user ids");
    if (users.length > PRESENCE_QUERY_MAX) throw new ApiError("invalid_request", `users: at most ${PRESENCE_QUERY_MAX} per query`);
    const bad = users.find((u) => !UserId.safeParse(u).success);
    if (bad !== undefined) throw new ApiError("invalid_request", `users: ${bad.slice(0, 80)} is not a valid user id`);
    const { tenantId } = actorOf(c);
    const shards = shardCount(c.env.PRESENCE_SHARDS);
    const byShard = new Map<number, string[]>();
    for (const u of users) {
      const s = presenceShard(u, shards);
      byShard.set(s, [...(byShard.get(s) ?? []), u]);
    }
    const parts = await Promise.all([...byShard].map(([shard, ids]) => presenceStub(c.env, tenantId, shard).getPresence({ tenantId, shard }, ids)));
    return c.json({ presence: Object.assign({}, ...parts) });
  })
  .get("/push/config", user, (c) =>
    // What a web client needs to subscribe: the VAPID public key is its applicationServerKey.
    c.json({ webpush: { applicationServerKey: c.env.VAPID_PUBLIC_KEY ?? null } }),
  )
  .post("/devices", user, jsonBody(RegisterDevice), async (c) => {
    const input = c.req.valid("json");
    const target = targetOf(input, c.env.ENVIRONMENT);
    const actor = actorOf(c);
    const { stub, address } = presenceOf(c.env, actor.tenantId, actor.userId);
    const device = await stub.registerDevice(address, actor.userId, { deviceId: input.id, platform: input.platform, target });
    return c.json(deviceView(device), 201);
  })
  .get("/devices", user, async (c) => {
    const actor = actorOf(c);
    const { stub, address } = presenceOf(c.env, actor.tenantId, actor.userId);
    return c.json({ devices: (await stub.listDevices(address, actor.userId)).map((d) => ({ ...deviceView(d), online: d.online })) });
  })
  .delete("/devices/:id", user, async (c) => {
    const actor = actorOf(c);
    const { stub, address } = presenceOf(c.env, actor.tenantId, actor.userId);
    if (!(await stub.deleteDevice(address, actor.userId, deviceIdParam(c)))) throw new ApiError("not_found", "device not found");
    return c.body(null, 204);
  })
  .post("/devices/:id/test", user, async (c) => {
    const actor = actorOf(c);
    const { stub, address } = presenceOf(c.env, actor.tenantId, actor.userId);
    return c.json(unwrap(await stub.testPush(address, actor.userId, deviceIdParam(c))), 202);
  })
  .get("/devices/:id/deliveries", user, async (c) => {
    const actor = actorOf(c);
    const deliveries = await deliveriesOf(c.env.DB, actor.tenantId, actor.userId, deviceIdParam(c));
    return c.json({ deliveries: deliveries.map(({ tenantId: _t, userId: _u, ...rest }) => rest) });
  });

/** A device as its owner sees it: the push target is summarised, never echoed in full. */
function deviceView(d: { deviceId: string; platform: string; target: PushTarget | null; createdAt: number; lastUsedAt: number }) {
  const where =
    d.target === null
      ? null
      : d.target.platform === "webpush"
        ? new URL(d.target.subscription.endpoint).origin
        : d.target.platform === "webhook"
          ? d.target.endpoint
          : `${d.target.token.slice(0, 8)}…`;
  return { id: d.deviceId, platform: d.platform, target: where, createdAt: d.createdAt, lastUsedAt: d.lastUsedAt };
}
