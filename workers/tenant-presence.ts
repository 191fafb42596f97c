import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { PresenceStore, type Device } from "../src/storage/presence-store";
import { contactsOf, unreadElsewhere } from "../src/storage/conversations";
import { tenantDb } from "../src/storage/shards";
import { parsePresenceName, planNotifications, presenceShard, shardCount, type NotifyBatch } from "../src/domain/notify";
import { presenceStub, type PresenceStatus as Status, type ShardAddress, type TenantPresenceRpc } from "../src/objects";
import { fail, ok, type Result } from "../src/domain/result";
import { pushJobId, type PushJob } from "../src/push/job";
import type { PushPlatform, PushTarget } from "../src/push/types";
import { PING_TEXT, PONG_TEXT } from "../src/protocol/frames";
import { ACTOR_HEADER } from "../src/protocol/internal";
import { answerClose, parseHeaderJson, trySend } from "../src/protocol/sockets";
import { errorBody } from "../src/protocol/errors";
import { ChannelMeter } from "../src/jobs/channel-meter";
import { logLine } from "../src/log";
import { LIMITS } from "../src/protocol/limits";
import { CLOSE_CODES } from "../src/protocol/close-codes";

/** How long a change of online state waits before it is announced: a flapping connection announces nothing. */
export const PRESENCE_COALESCE_MS = 1_000;
const ANNOUNCE_RETRY_MAX_MS = 60_000;
/** Users announced per contacts query, and chunks per alarm run (the rest follow in the next run). */
const ANNOUNCE_CHUNK = 50;
const ANNOUNCE_ROUNDS = 20;
/** Queues take at most 100 messages per sendBatch. */
const QUEUE_BATCH = 100;


const ChannelActor = z.object({
  tenantId: z.string(),
  userId: z.string(),
  deviceId: z.string(),
  shard: z.number().int().min(0),
  /** The upgrade's request id and accept time, for the reporting log's line when the channel ends. */
  requestId: z.string().max(64).optional(),
  since: z.number().optional(),
});
type ChannelActor = z.infer<typeof ChannelActor>;

/**
 * The presence of one tenant's users (or of one shard of them, by a hash of the user id): device
 * registry and push targets, device channels (hibernating WebSockets tagged by user and device),
 * online state, and the notify/push decision for new messages.
 */
export class TenantPresence extends DurableObject<Env> implements TenantPresenceRpc {
  private readonly store: PresenceStore;
  private readonly channels = new ChannelMeter();
  /**
   * This shard's tenant and index, from the name it is addressed by (`presence:<tenant>:<shard>`): the
   * runtime hands it over on every path, alarms included (test/object-names.test.ts).
   */
  private readonly self: ShardAddress | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new PresenceStore(ctx.storage);
    this.self = ctx.id.name === undefined ? undefined : parsePresenceName(ctx.id.name);
    ctx.blockConcurrencyWhile(async () => this.store.migrate());
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_TEXT, PONG_TEXT));
  }

  // ---- device channels ----

  override async fetch(request: Request): Promise<Response> {
    const parsed = ChannelActor.safeParse(parseHeaderJson(request.headers.get(ACTOR_HEADER)));
    if (!parsed.success) return Response.json(errorBody("invalid_request", "missing identity"), { status: 400 });
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return Response.json(errorBody("invalid_request", "expected a WebSocket upgrade"), { status: 400 });
    }
    const actor = parsed.data;
    if (this.openChannels(actor.userId).length >= LIMITS.socketsPerUser) {
      return Response.json(errorBody("rate_limited", `at most ${LIMITS.socketsPerUser} open device channels per person`), {
        status: 429,
        headers: { "Retry-After": "5" },
      });
    }
    const quota = await this.channels.refusal(this.env, actor.tenantId, shardCount(this.env.PRESENCE_SHARDS), this.ctx.getWebSockets().length, Date.now());
    if (quota) return Response.json(errorBody(quota.code, quota.message), { status: 403 });
    this.bind({ tenantId: actor.tenantId, shard: actor.shard });
    const wasOnline = this.isOnline(actor.userId);
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [`u:${actor.userId}`, `d:${actor.userId}:${actor.deviceId}`]);
    const now = Date.now();
    server.serializeAttachment({ ...actor, since: now } satisfies ChannelActor);
    this.store.touchDevice(actor.userId, actor.deviceId, now);
    this.store.markSeen(actor.userId, now, !wasOnline);
    if (!wasOnline) await this.armAnnounce();
    this.channels.opened(this.env, actor.tenantId, actor.shard, this.ctx.getWebSockets().length, now);
    server.send(JSON.stringify({ type: "ready", userId: actor.userId, deviceId: actor.deviceId }));
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    // The channel is server-to-client; besides pings (answered by the runtime) clients send nothing.
    let type: unknown;
    try {
      const data: unknown = typeof raw === "string" ? JSON.parse(raw) : undefined;
      type = typeof data === "object" && data !== null && "type" in data ? data.type : undefined;
    } catch {
      type = undefined;
    }
    if (type === "ping") {
      trySend(ws, PONG_TEXT);
      return;
    }
    trySend(ws, JSON.stringify({ type: "error", code: "invalid_request", message: "type: the device channel accepts only ping" }));
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    answerClose(ws, code, reason);
    await this.channelGone(ws, code);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.channelGone(ws, 1006);
  }

  private async channelGone(ws: WebSocket, code: number): Promise<void> {
    const actor = ChannelActor.safeParse(ws.deserializeAttachment());
    if (!actor.success) return;
    const { requestId, tenantId, userId, deviceId, since } = actor.data;
    logLine("socket.closed", {
      requestId,
      tenantId,
      actorKind: "user",
      actorId: userId,
      deviceId,
      route: "/v1/ws",
      status: code,
      durationMs: since === undefined ? undefined : Date.now() - since,
    });
    const stillOnline = this.isOnline(actor.data.userId, ws);
    this.store.markSeen(actor.data.userId, Date.now(), !stillOnline);
    if (!stillOnline) await this.armAnnounce();
  }

  /** Online while any channel of the user is open (a closing socket, given as `except`, does not count). */
  private isOnline(userId: string, except?: WebSocket): boolean {
    return this.openChannels(userId).some((ws) => ws !== except);
  }

  private openChannels(userId: string): WebSocket[] {
    return this.ctx.getWebSockets(`u:${userId}`).filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  private sendToUser(userId: string, data: string): number {
    let sent = 0;
    for (const ws of this.openChannels(userId)) if (trySend(ws, data)) sent++;
    return sent;
  }

  // ---- presence ----

  async getPresence(address: ShardAddress, userIds: string[]): Promise<Record<string, { status: Status; lastSeen: number | null }>> {
    this.bind(address);
    const seen = this.store.lastSeen(userIds);
    const now = Date.now();
    return Object.fromEntries(
      userIds.map((u) => {
        const online = this.isOnline(u);
        return [u, { status: online ? "online" : "offline", lastSeen: online ? now : (seen.get(u) ?? null) }] as const;
      }),
    );
  }

  /** Deliver presence frames to the given recipients' open channels on this shard. */
  async relayPresence(address: ShardAddress, updates: { userId: string; status: Status; recipients: string[] }[]): Promise<void> {
    this.bind(address);
    for (const u of updates) {
      const data = JSON.stringify({ type: "presence", userId: u.userId, status: u.status });
      for (const r of u.recipients) this.sendToUser(r, data);
    }
  }

  private async armAnnounce(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + PRESENCE_COALESCE_MS);
  }

  override async alarm(info?: AlarmInvocationInfo): Promise<void> {
    try {
      await this.announce();
    } catch (err) {
      const delay = Math.min(PRESENCE_COALESCE_MS * 2 ** ((info?.retryCount ?? 0) + 1), ANNOUNCE_RETRY_MAX_MS);
      console.error(`presence announce failed; retrying in ${delay} ms`, err);
      await this.ctx.storage.setAlarm(Date.now() + delay);
    }
  }

  /**
   * Tell the contacts of every user whose state really changed since the last announcement, a chunk
   * of users at a time (a whole tenant reconnecting after a deploy must not become one huge query).
   */
  private async announce(): Promise<void> {
    for (let round = 0; round < ANNOUNCE_ROUNDS; round++) {
      if (!(await this.announceChunk())) return;
    }
    await this.ctx.storage.setAlarm(Date.now());
  }

  /** Announce up to ANNOUNCE_CHUNK pending users; false when none were pending. */
  private async announceChunk(): Promise<boolean> {
    const self = this.address();
    if (!self) return false;
    const { tenantId, shard: myShard } = self;
    const pending = this.store.pendingChanges(ANNOUNCE_CHUNK);
    if (pending.length === 0) return false;
    const changed: { userId: string; status: Status }[] = [];
    for (const p of pending) {
      const status: Status = this.isOnline(p.userId) ? "online" : "offline";
      if (status === p.announced) this.store.markAnnounced(p.userId, status);
      else changed.push({ userId: p.userId, status });
    }
    if (changed.length === 0) return true;
    const contacts = await contactsOf(tenantDb(this.env, tenantId), tenantId, changed.map((c) => c.userId));
    const shards = shardCount(this.env.PRESENCE_SHARDS);
    const byShard = new Map<number, { userId: string; status: Status; recipients: string[] }[]>();
    for (const c of changed) {
      const recipientsByShard = new Map<number, string[]>();
      for (const r of contacts.get(c.userId) ?? []) {
        const s = presenceShard(r, shards);
        recipientsByShard.set(s, [...(recipientsByShard.get(s) ?? []), r]);
      }
      for (const [s, recipients] of recipientsByShard) byShard.set(s, [...(byShard.get(s) ?? []), { ...c, recipients }]);
    }
    await Promise.all(
      [...byShard].map(([s, updates]) =>
        s === myShard
          ? this.relayPresence({ tenantId, shard: s }, updates)
          : presenceStub(this.env, tenantId, s).relayPresence({ tenantId, shard: s }, updates),
      ),
    );
    for (const c of changed) this.store.markAnnounced(c.userId, c.status);
    return true;
  }

  // ---- devices ----

  async registerDevice(
    address: ShardAddress,
    userId: string,
    device: { deviceId: string; platform: PushPlatform; target: PushTarget | null },
  ): Promise<Device> {
    this.bind(address);
    return this.store.upsertDevice({ userId, ...device, now: Date.now() });
  }

  async deleteDevice(address: ShardAddress, userId: string, deviceId: string): Promise<boolean> {
    this.bind(address);
    const deleted = this.store.deleteDevice(userId, deviceId);
    // A deleted device's open channel ends with it.
    for (const ws of this.ctx.getWebSockets(`d:${userId}:${deviceId}`)) {
      try {
        ws.close(CLOSE_CODES.deviceDeleted, "device deleted");
      } catch {
        // already closed
      }
    }
    return deleted;
  }

  /** Close every device channel of a user (tokens revoked, user deactivated). */
  async closeUser(address: ShardAddress, userId: string, code: number, reason: string): Promise<number> {
    this.bind(address);
    const sockets = this.ctx.getWebSockets(`u:${userId}`);
    for (const ws of sockets) {
      try {
        ws.close(code, reason);
      } catch {
        // already closed
      }
    }
    return sockets.length;
  }

  async listDevices(address: ShardAddress, userId: string): Promise<(Device & { online: boolean })[]> {
    this.bind(address);
    return this.store.devicesOf(userId).map((d) => ({ ...d, online: this.ctx.getWebSockets(`d:${userId}:${d.deviceId}`).some((ws) => ws.readyState === WebSocket.OPEN) }));
  }

  /** Queue a test notification to one of the caller's own devices. */
  async testPush(address: ShardAddress, userId: string, deviceId: string): Promise<Result<{ jobId: string }>> {
    this.bind(address);
    const device = this.store.device(userId, deviceId);
    if (!device) return fail("not_found", "device not found");
    if (!device.target) return fail("invalid_request", "this device has no push target");
    const now = Date.now();
    const notification = {
      tenantId: address.tenantId,
      userId,
      deviceId,
      conversationId: "test",
      seq: now,
      sender: "switchboard",
      preview: "Test notification: push works for this device.",
      badge: 0,
      title: "Switchboard",
    };
    const job: PushJob = { jobId: `${pushJobId(notification)}:test`, target: device.target, notification, createdAt: now };
    await this.env.PUSH_QUEUE.send(job);
    return ok({ jobId: job.jobId });
  }

  // ---- notify ----

  /**
   * New messages of one conversation: a `notify` frame to every open channel of each recipient; for
   * recipients with no open channel, one push job per push device. Idempotent per (conversation, seq).
   */
  async notify(address: ShardAddress, batch: NotifyBatch): Promise<{ frames: number; jobs: number }> {
    this.bind(address);
    const already = this.store.notifiedSeq(batch.conversationId);
    const fresh = { ...batch, messages: batch.messages.filter((m) => m.seq > already) };
    const last = fresh.messages.at(-1);
    if (!last) return { frames: 0, jobs: 0 };
    const plan = planNotifications(fresh, (u) => this.isOnline(u));
    let frames = 0;
    for (const f of plan.frames) frames += this.sendToUser(f.userId, JSON.stringify(f.frame));
    const jobs = await this.pushJobs(batch, plan.pushes);
    for (let i = 0; i < jobs.length; i += QUEUE_BATCH) {
      await this.env.PUSH_QUEUE.sendBatch(jobs.slice(i, i + QUEUE_BATCH).map((body) => ({ body })));
    }
    this.store.markNotified(batch.conversationId, last.seq);
    // A line for each hand-over that reached someone; one that found every recipient reading the
    // conversation (or no device to reach) did nothing to report, and a busy tenant has many.
    if (frames > 0 || jobs.length > 0) logLine("notify.batch", {
      tenantId: batch.tenantId,
      conversationId: batch.conversationId,
      shard: address.shard,
      messages: fresh.messages.length,
      frames,
      pushJobs: jobs.length,
    });
    return { frames, jobs: jobs.length };
  }

  private async pushJobs(batch: NotifyBatch, pushes: ReturnType<typeof planNotifications>["pushes"]): Promise<PushJob[]> {
    if (pushes.length === 0) return [];
    const devices = this.store.pushDevicesOf(pushes.map((p) => p.userId));
    if (devices.length === 0) return [];
    const elsewhere = await unreadElsewhere(tenantDb(this.env, batch.tenantId), batch.tenantId, batch.conversationId, [...new Set(devices.map((d) => d.userId))]);
    const now = Date.now();
    const jobs: PushJob[] = [];
    for (const p of pushes) {
      for (const d of devices) {
        if (d.userId !== p.userId || !d.target) continue;
        const notification = {
          tenantId: batch.tenantId,
          userId: p.userId,
          deviceId: d.deviceId,
          conversationId: batch.conversationId,
          seq: p.message.seq,
          sender: p.message.sender,
          preview: p.message.preview,
          badge: p.unreadHere + (elsewhere.get(p.userId) ?? 0),
          title: batch.conversationName ?? p.message.sender,
        };
        jobs.push({ jobId: pushJobId(notification), target: d.target, notification, createdAt: now });
      }
    }
    return jobs;
  }

  /** Who this shard is: its name, or the copy an earlier version stored (for an object whose name is not handed over). */
  private address(): ShardAddress | undefined {
    return this.self ?? this.store.storedAddress();
  }

  /** Callers still name the shard they mean; a shard addressed as another is a bug of the caller. */
  private bind(address: ShardAddress): void {
    const self = this.address();
    if (self && (self.tenantId !== address.tenantId || self.shard !== address.shard)) {
      throw new Error(`presence shard ${self.tenantId}:${self.shard} addressed as ${address.tenantId}:${address.shard}`);
    }
  }
}


