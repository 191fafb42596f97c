import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { RoomStore } from "../src/storage/room-store";
import { hideFromSearch } from "../src/storage/search";
import { tenantDb } from "../src/storage/shards";
import { Conversation, type LifecyclePolicy } from "../src/domain/conversation";
import type { AttachmentRecord, AttachmentUpload, ConversationView, Fanout, SendInput, SendResult } from "../src/domain/model";
import type { ConversationRoomRpc } from "../src/objects";
import type { Role } from "../src/domain/membership";
import type { Actor, Result } from "../src/domain/result";
import { RoomOutbox } from "../src/jobs/room-outbox";
import { RoomMeter } from "../src/jobs/room-meter";
import type { Message, ServerFrame } from "../src/protocol/frames";
import { parseClientFrame, PING_TEXT, PONG_TEXT } from "../src/protocol/frames";
import { LIMITS } from "../src/protocol/limits";
import { systemClock, TokenBucket, type Clock } from "../src/domain/rate";
import { errorBody } from "../src/protocol/errors";
import { describeIssue, Emoji } from "../src/domain/kinds";
import { ACTOR_HEADER } from "../src/protocol/internal";
import { logLine } from "../src/log";
import { answerClose, parseHeaderJson, trySend } from "../src/protocol/sockets";


/** Messages read from SQLite per step of a replay. */
const REPLAY_PAGE = 500;

const SocketActor = z.object({
  tenantId: z.string(),
  userId: z.string(),
  deviceId: z.string(),
  /** The upgrade's request id and accept time, for the reporting log's line when the socket ends. */
  requestId: z.string().max(64).optional(),
  since: z.number().optional(),
});
type SocketActor = z.infer<typeof SocketActor>;

/**
 * One conversation: its ordered log, members and live sockets. The single writer of `seq`.
 * Runtime handlers decode and delegate to {@link Conversation}; side effects leave through the outbox
 * (a change counter mirrored to D1 by the alarm), never on the per-message path.
 */
export class ConversationRoom extends DurableObject<Env> implements ConversationRoomRpc {
  readonly store: RoomStore;
  private readonly conversation: Conversation;
  private readonly outbox: RoomOutbox;
  private readonly meter = new RoomMeter();
  private readonly typingBuckets = new WeakMap<WebSocket, TokenBucket>();
  /** Time for rate limits and message timestamps; a test may replace it with one it moves itself. */
  clock: Clock = systemClock;
  /** Where attachment bytes are deleted; a test may wrap it to make deletions fail. */
  files: Pick<R2Bucket, "delete">;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new RoomStore(ctx.storage);
    this.conversation = new Conversation(this.store, this.fanout, () => this.meter.refusal(this.store.unmirroredCount()));
    this.files = env.FILES;
    this.outbox = new RoomOutbox({ env, storage: ctx.storage, store: this.store, files: () => this.files, liveUsers: () => this.liveUsers(), meter: this.meter });
    ctx.blockConcurrencyWhile(async () => this.store.migrateIfCreated());
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_TEXT, PONG_TEXT));
  }

  // ---- WebSocket upgrade (the only use of fetch) ----

  override async fetch(request: Request): Promise<Response> {
    const actor = SocketActor.safeParse(parseHeaderJson(request.headers.get(ACTOR_HEADER)));
    if (!actor.success) return jsonError(400, "invalid_request", "missing identity");
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return jsonError(400, "invalid_request", "expected a WebSocket upgrade");
    }
    if (!this.conversation.isMember(actor.data)) return jsonError(404, "not_found", "conversation not found");
    if (this.liveSockets().size >= LIMITS.socketsPerConversation) {
      return jsonError(429, "rate_limited", "this conversation has too many open connections", { "Retry-After": "5" });
    }
    if (this.ctx.getWebSockets(`u:${actor.data.userId}`).length >= LIMITS.socketsPerUser) {
      return jsonError(429, "rate_limited", `at most ${LIMITS.socketsPerUser} open connections per person on a conversation`, { "Retry-After": "5" });
    }
    const after = Number(new URL(request.url).searchParams.get("after") ?? "0");
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [`u:${actor.data.userId}`, `d:${actor.data.deviceId}`]);
    const identity: SocketActor = { ...actor.data, since: Date.now() };
    server.serializeAttachment(identity);
    actors.set(server, identity);
    this.liveSockets().add(server);
    const room = this.store.requireRoom();
    send(server, { type: "ready", conversationId: room.conversationId, lastSeq: room.lastSeq });
    // Replay in pages, each decorated for this reader (reactions, deletions for them only).
    let cursor = after;
    while (cursor < room.lastSeq) {
      const page = this.store.page({ after: cursor, limit: REPLAY_PAGE });
      const last = page.at(-1);
      if (!last) break;
      for (const message of this.conversation.decorate(actor.data.userId, page)) send(server, { type: "message", message });
      cursor = last.seq;
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    try {
      const actor = socketActor(ws);
      if (!actor) return ws.close(1011, "socket has no identity");
      const parsed = parseClientFrame(raw);
      if (!parsed.ok) {
        return send(ws, { type: "error", code: parsed.code, message: parsed.message, ...(parsed.clientId ? { clientId: parsed.clientId } : {}) });
      }
      if (!this.conversation.isMember(actor)) {
        send(ws, { type: "error", code: "forbidden", message: "you are no longer a member of this conversation" });
        return ws.close(4403, "not a member");
      }
      const frame = parsed.frame;
      const now = this.clock.now();
      switch (frame.type) {
        case "send": {
          const result = this.conversation.send(actor, frame satisfies SendInput, now, (stored) =>
            send(ws, { type: "ack", clientId: frame.clientId, seq: stored.message.seq, ts: stored.message.ts }),
          );
          if (!result.ok) return send(ws, { type: "error", code: result.code, message: result.message, clientId: frame.clientId });
          if (result.value.status === "created") this.outbox.changed();
          return;
        }
        case "read": {
          const result = this.conversation.markRead(actor, frame.seq, ws);
          if (result.ok) this.outbox.changed();
          return;
        }
        case "typing": {
          let bucket = this.typingBuckets.get(ws);
          if (!bucket) this.typingBuckets.set(ws, (bucket = new TokenBucket(LIMITS.typingPerSecond, LIMITS.typingPerSecond, now)));
          if (bucket.take(now).ok) this.conversation.typing(actor);
          return;
        }
        case "ping":
          return send(ws, { type: "pong" });
        case "react": {
          const emoji = Emoji.safeParse(frame.emoji);
          if (!emoji.success) return send(ws, { type: "error", code: "invalid_request", message: describeIssue(emoji.error, "emoji") });
          const result = this.conversation.react(actor, frame.seq, emoji.data, frame.remove !== true, now);
          if (!result.ok) return send(ws, { type: "error", code: result.code, message: result.message });
          if (result.value.changed) this.outbox.changed();
          return;
        }
        case "edit":
        case "recall": {
          const policy = await this.lifecyclePolicy();
          const result =
            frame.type === "edit"
              ? this.conversation.edit(actor, frame.seq, frame.body, policy, this.clock.now())
              : this.conversation.recall(actor, frame.seq, policy, this.clock.now());
          if (!result.ok) return send(ws, { type: "error", code: result.code, message: result.message });
          this.outbox.changed();
          return;
        }
      }
    } catch (err) {
      console.error("webSocketMessage failed", err);
      send(ws, { type: "error", code: "internal_error", message: "the message could not be processed" });
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.sockets?.delete(ws);
    answerClose(ws, code, reason);
    this.logSessionEnd(ws, code);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.sockets?.delete(ws);
    console.warn("websocket error", error);
    this.logSessionEnd(ws, 1006);
  }

  private logSessionEnd(ws: WebSocket, code: number): void {
    const actor = socketActor(ws);
    logLine("socket.closed", {
      requestId: actor?.requestId,
      tenantId: actor?.tenantId,
      actorKind: "user",
      actorId: actor?.userId,
      deviceId: actor?.deviceId,
      route: "/v1/conversations/:id/ws",
      conversationId: this.store.getRoom()?.conversationId,
      status: code,
      durationMs: actor?.since === undefined ? undefined : Date.now() - actor.since,
    });
  }

  /**
   * The open sockets, kept in memory instead of asked of the runtime for every broadcast; rebuilt
   * from the runtime after a wake-up, then maintained by accept and close.
   */
  private sockets: Set<WebSocket> | undefined;

  private liveSockets(): Set<WebSocket> {
    this.sockets ??= new Set(this.ctx.getWebSockets());
    return this.sockets;
  }

  // ---- Fanout ----

  private readonly fanout: Fanout = {
    broadcast: (frame, skip) => this.broadcast(frame, skip),
    toUser: (userId, frame) => this.toUser(userId, frame),
    disconnectUser: (userId, code, message) => this.closeUser(userId, code, message),
  };

  private broadcast(frame: ServerFrame, skip?: (userId: string, socket: unknown) => boolean): void {
    const data = JSON.stringify(frame);
    const sockets = this.liveSockets();
    let sent = 0;
    for (const ws of sockets) {
      if (skip) {
        const actor = socketActor(ws);
        if (!actor || skip(actor.userId, ws)) continue;
      }
      if (trySend(ws, data)) sent += 1;
      else sockets.delete(ws);
    }
    if (frame.type === "message") this.meter.delivered(sent);
  }

  /** Users with a socket open here. */
  liveUsers(): Set<string> {
    const users = new Set<string>();
    for (const ws of this.liveSockets()) {
      const actor = socketActor(ws);
      if (actor) users.add(actor.userId);
    }
    return users;
  }

  private toUser(userId: string, frame: ServerFrame): void {
    const data = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets(`u:${userId}`)) trySend(ws, data);
  }

  async disconnectUser(userId: string, code: number, message: string): Promise<void> {
    this.closeUser(userId, code, message);
  }

  private closeUser(userId: string, code: number, message: string): void {
    const data = JSON.stringify({ type: "error", code: "forbidden", message } satisfies ServerFrame);
    for (const ws of this.ctx.getWebSockets(`u:${userId}`)) {
      trySend(ws, data);
      try {
        this.sockets?.delete(ws);
        ws.close(code, message);
      } catch {
        // already closing
      }
    }
  }

  // ---- RPC, called by the Worker with an identity it verified ----

  async openDirect(input: { tenantId: string; conversationId: string; members: [string, string]; actor: string }) {
    const result = this.conversation.openDirect({ ...input, now: this.clock.now() });
    if (result.ok && result.value.created) await this.outbox.changedNow();
    return result;
  }

  async createGroup(input: { tenantId: string; conversationId: string; name: string; owner: string; members: string[] }) {
    const result = this.conversation.createGroup({ ...input, now: this.clock.now() });
    if (result.ok) await this.outbox.changedNow();
    return result;
  }

  async getConversation(actor: Actor): Promise<Result<ConversationView>> {
    return this.conversation.view(actor);
  }

  async addMembers(actor: Actor, userIds: string[]): Promise<Result<ConversationView>> {
    return this.mirrored(this.conversation.addMembers(actor, userIds, this.clock.now()));
  }

  async removeMember(actor: Actor, userId: string): Promise<Result<{ removed: boolean }>> {
    return this.mirrored(this.conversation.removeMember(actor, userId, this.clock.now()));
  }

  async setRole(actor: Actor, userId: string, role: Role): Promise<Result<ConversationView>> {
    return this.mirrored(this.conversation.setRole(actor, userId, role, this.clock.now()));
  }

  async sendMessage(actor: Actor, input: SendInput): Promise<Result<SendResult>> {
    const result = this.conversation.send(actor, input, this.clock.now());
    return result.ok && result.value.status === "created" ? this.mirrored(result) : result;
  }

  async history(actor: Actor, range: { after?: number | undefined; before?: number | undefined; limit: number }): Promise<Result<Message[]>> {
    return this.conversation.history(actor, range);
  }

  async react(actor: Actor, seq: number, emoji: string, add: boolean) {
    return this.mirrored(this.conversation.react(actor, seq, emoji, add, this.clock.now()));
  }

  async editMessage(actor: Actor, seq: number, body: unknown): Promise<Result<Message>> {
    const denied = this.conversation.denied(actor);
    if (denied) return denied;
    const policy = await this.lifecyclePolicy();
    return this.mirrored(this.conversation.edit(actor, seq, body, policy, this.clock.now()));
  }

  async editHistory(actor: Actor, seq: number) {
    return this.conversation.editHistory(actor, seq);
  }

  async recallMessage(actor: Actor, seq: number): Promise<Result<Message>> {
    const denied = this.conversation.denied(actor);
    if (denied) return denied;
    const policy = await this.lifecyclePolicy();
    return this.mirrored(this.conversation.recall(actor, seq, policy, this.clock.now()));
  }

  /**
   * Search (D1) must leave the message out for this member too: the copy is written before the answer, on
   * every call, so a failed write fails the request and the client's retry (the hide itself is idempotent)
   * writes it again.
   */
  async hideMessage(actor: Actor, seq: number) {
    const result = this.conversation.hide(actor, seq);
    if (result.ok) {
      const room = this.store.requireRoom();
      await hideFromSearch(tenantDb(this.env, room.tenantId), { tenantId: room.tenantId, userId: actor.userId, conversationId: room.conversationId, seq });
    }
    return result;
  }

  async receipts(actor: Actor, seq: number) {
    return this.conversation.receipts(actor, seq);
  }

  async decide(actor: Actor, seq: number, input: { clientId: string; decision: "approve" | "reject"; comment?: string | undefined }) {
    const result = this.conversation.decide(actor, seq, input, this.clock.now());
    if (result.ok && result.value.decision.status === "created" && result.value.final) {
      this.emitApprovalDecided(result.value.request);
    }
    return result.ok && result.value.decision.status === "created" ? this.mirrored(result) : result;
  }

  async registerAttachment(actor: Actor, upload: AttachmentUpload): Promise<Result<AttachmentRecord>> {
    const result = this.conversation.registerAttachment(actor, upload);
    if (result.ok) await this.outbox.armOrphanSweep();
    return result;
  }

  async attachmentFor(actor: Actor, id: string): Promise<Result<AttachmentRecord>> {
    return this.conversation.attachmentFor(actor, id);
  }

  /** An attachment by id, for a signed download link (whose signature already proves access). */
  async attachmentForLink(tenantId: string, id: string): Promise<Result<AttachmentRecord>> {
    const room = this.store.getRoom();
    const record = room && room.tenantId === tenantId ? this.store.attachment(id) : undefined;
    return record ? { ok: true, value: record } : { ok: false, code: "not_found", message: "attachment not found" };
  }

  /** Someone acted on a CRM card (e.g. "claim", "call", "won"): an event in the stream and for the CRM. */
  async cardAction(actor: Actor, seq: number, action: string) {
    const result = this.conversation.cardAction(actor, seq, action, this.clock.now());
    if (!result.ok) return result;
    const card = result.value.card;
    this.store.enqueueOutbound("card.action", {
      conversationId: card.conversationId,
      seq: card.seq,
      action,
      userId: actor.userId,
      card: card.body,
    }, this.clock.now());
    return this.mirrored(result);
  }

  /** Hook point for outbound CRM events: an approval reached its final state. */
  private emitApprovalDecided(request: Message): void {
    this.store.enqueueOutbound("approval.decided", {
      conversationId: request.conversationId,
      seq: request.seq,
      title: request.body.title ?? null,
      state: request.body.state ?? null,
      decisions: request.body.decisions ?? [],
      requestedBy: request.sender,
    }, this.clock.now());
  }

  /** The tenant's edit and recall windows, read from D1 when an edit or recall needs them. */
  private async lifecyclePolicy(): Promise<LifecyclePolicy> {
    const room = this.store.requireRoom();
    const row = await this.env.DB.prepare(`SELECT edit_window_seconds AS e, recall_window_seconds AS r FROM tenants WHERE id = ?`)
      .bind(room.tenantId)
      .first<{ e: number; r: number }>();
    return { editWindowMs: (row?.e ?? 86_400) * 1000, recallWindowMs: (row?.r ?? 600) * 1000 };
  }

  async markRead(actor: Actor, seq: number): Promise<Result<{ readSeq: number }>> {
    return this.mirrored(this.conversation.markRead(actor, seq));
  }

  async setMuted(actor: Actor, muted: boolean): Promise<Result<{ conversationId: string; muted: boolean }>> {
    return this.mirrored(this.conversation.setMuted(actor, muted));
  }

  /** Retention: delete messages older than `cutoff`; 0 for another tenant's call or an empty object. */
  async purgeBefore(tenantId: string, cutoff: number): Promise<number> {
    const room = this.store.getRoom();
    if (!room || room.tenantId !== tenantId) return 0;
    const deleted = this.store.purgeBefore(cutoff, Date.now());
    if (deleted > 0) await this.outbox.changedNow();
    return deleted;
  }

  // ---- side effects (src/jobs/room-outbox.ts) ----

  /** After an HTTP change: mirror before answering (read-your-writes on the listing), the rest on the alarm. */
  private async mirrored<T>(result: Result<T>): Promise<Result<T>> {
    if (result.ok) await this.outbox.changedNow();
    return result;
  }

  override async alarm(): Promise<void> {
    await this.outbox.run();
  }
}

/**
 * Identities of accepted sockets, kept in memory: reading the attachment is a structured clone, too
 * dear for every frame and every broadcast. After hibernation each socket is read once again.
 */
const actors = new WeakMap<WebSocket, SocketActor>();

function socketActor(ws: WebSocket): SocketActor | undefined {
  let actor = actors.get(ws);
  if (!actor) {
    // The attachment was written by this class at accept time; a hand check is enough.
    const a = ws.deserializeAttachment() as Partial<SocketActor> | null;
    if (!a || typeof a.tenantId !== "string" || typeof a.userId !== "string" || typeof a.deviceId !== "string") return undefined;
    actor = {
      tenantId: a.tenantId,
      userId: a.userId,
      deviceId: a.deviceId,
      ...(typeof a.requestId === "string" ? { requestId: a.requestId } : {}),
      ...(typeof a.since === "number" ? { since: a.since } : {}),
    };
    actors.set(ws, actor);
  }
  return actor;
}

function send(ws: WebSocket, frame: ServerFrame): void {
  trySend(ws, JSON.stringify(frame));
}



function jsonError(status: number, code: Parameters<typeof errorBody>[0], message: string, headers: Record<string, string> = {}): Response {
  return Response.json(errorBody(code, message), { status, headers });
}

