import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import type { ClientFrame, Message } from "../src/protocol/frames";
import { parseClientFrame, PING_TEXT, PONG_TEXT } from "../src/protocol/frames";
import { errorBody, type ErrorCode } from "../src/protocol/errors";
import { ACTOR_HEADER } from "../src/protocol/internal";
import { LIMITS } from "../src/protocol/limits";
import { answerClose, parseHeaderJson } from "../src/protocol/sockets";
import { describeIssue } from "../src/protocol/text";
import { Conversation } from "../src/domain/conversation";
import { Emoji } from "../src/domain/kinds";
import type { LifecyclePolicy } from "../src/domain/lifecycle";
import type { Role } from "../src/domain/membership";
import { MessageActions } from "../src/domain/message-actions";
import type { AttachmentUpload, DecisionInput, HistoryRange, SendInput } from "../src/domain/model";
import { systemClock, TokenBucket, type Clock } from "../src/domain/rate";
import type { Actor, Result } from "../src/domain/result";
import { Roster } from "../src/domain/roster";
import { RoomMeter } from "../src/jobs/room-meter";
import { RoomOutbox } from "../src/jobs/room-outbox";
import { logLine } from "../src/log";
import type { ConversationRoomRpc } from "../src/objects";
import { readLifecyclePolicy } from "../src/storage/room-policy";
import { RoomStorage } from "../src/storage/room-store";
import { hideFromSearch } from "../src/storage/search";
import { tenantDb } from "../src/storage/shards";
import { RoomSockets, send, type SocketIdentity } from "./room-sockets";
import { CLOSE_CODES } from "../src/protocol/close-codes";

/** Messages read from SQLite per step of a replay. */
const REPLAY_PAGE = 500;

const UpgradeIdentity = z.object({
  tenantId: z.string(),
  userId: z.string(),
  deviceId: z.string(),
  requestId: z.string().max(64).optional(),
});

/**
 * One conversation: its ordered log, members and live sockets; the single writer of `seq`. A shell:
 * socket and RPC entry points decode and delegate to the domain (src/domain: {@link Conversation},
 * {@link Roster}, {@link MessageActions}) over the object's SQLite (src/storage/room-*.ts); side effects
 * leave through the outbox (src/jobs/room-outbox.ts), run by the alarm, never on the per-message path.
 */
export class ConversationRoom extends DurableObject<Env> implements ConversationRoomRpc {
  /** The object's SQLite (read by tests that look inside with runInDurableObject). */
  readonly store: RoomStorage;
  private readonly sockets: RoomSockets;
  private readonly conversation: Conversation;
  private readonly roster: Roster;
  private readonly actions: MessageActions;
  private readonly outbox: RoomOutbox;
  private readonly meter = new RoomMeter();
  private readonly typingBuckets = new WeakMap<WebSocket, TokenBucket>();
  /**
   * The frames of a socket waiting behind one of its frames that awaits D1 (an edit or recall reads the
   * tenant's windows first): a socket's frames are handled in the order they came, so a frame sent
   * after an edit never overtakes it. Frames that need no read are handled at once, synchronously.
   */
  private readonly frameQueues = new WeakMap<WebSocket, Promise<void>>();
  /** Time for rate limits and message timestamps; a test may replace it with one it moves itself. */
  clock: Clock = systemClock;
  /** Where attachment bytes are deleted; a test may wrap it to make deletions fail. */
  files: Pick<R2Bucket, "delete">;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new RoomStorage(ctx.storage);
    this.sockets = new RoomSockets(ctx, (n) => this.meter.delivered(n));
    this.conversation = new Conversation(this.store, this.sockets, () => this.meter.refusal(this.store.header.unmirroredCount()));
    this.roster = new Roster(this.conversation);
    this.actions = new MessageActions(this.conversation);
    this.files = env.FILES;
    this.outbox = new RoomOutbox({ env, storage: ctx.storage, store: this.store, files: () => this.files, liveUsers: () => this.sockets.liveUsers(), meter: this.meter, now: () => this.clock.now() });
    ctx.blockConcurrencyWhile(async () => this.store.header.migrateIfCreated());
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_TEXT, PONG_TEXT));
  }

  // ---- WebSocket upgrade (the only use of fetch), then replay ----

  override async fetch(request: Request): Promise<Response> {
    const parsed = UpgradeIdentity.safeParse(parseHeaderJson(request.headers.get(ACTOR_HEADER)));
    if (!parsed.success) return jsonError(400, "invalid_request", "missing identity");
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return jsonError(400, "invalid_request", "expected a WebSocket upgrade");
    const actor = parsed.data;
    if (!this.conversation.isMember(actor)) return jsonError(404, "not_found", "conversation not found");
    if (this.sockets.count() >= LIMITS.socketsPerConversation) {
      return jsonError(429, "rate_limited", "this conversation has too many open connections", { "Retry-After": "5" });
    }
    if (this.sockets.count(actor.userId) >= LIMITS.socketsPerUser) {
      return jsonError(429, "rate_limited", `at most ${LIMITS.socketsPerUser} open connections per person on a conversation`, { "Retry-After": "5" });
    }
    const after = Number(new URL(request.url).searchParams.get("after") ?? "0");
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const identity: SocketIdentity = { ...actor, since: Date.now() };
    this.sockets.accept(server, identity);
    const room = this.store.header.require();
    send(server, { type: "ready", conversationId: room.conversationId, lastSeq: room.lastSeq });
    // Replay in pages, each decorated for this reader (reactions, deletions for them only).
    for (let cursor = after; cursor < room.lastSeq; ) {
      const page = this.store.log.page({ after: cursor, limit: REPLAY_PAGE });
      const last = page.at(-1);
      if (!last) break;
      for (const message of this.conversation.decorate(actor.userId, page)) send(server, { type: "message", message });
      cursor = last.seq;
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  // ---- socket frames ----

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const waiting = this.frameQueues.get(ws);
    if (waiting) return this.queueFrame(ws, waiting.then(() => this.onFrame(ws, raw)));
    const pending = this.onFrame(ws, raw);
    if (pending instanceof Promise) return this.queueFrame(ws, pending);
  }

  private queueFrame(ws: WebSocket, done: Promise<void>): Promise<void> {
    this.frameQueues.set(ws, done);
    return done.finally(() => {
      if (this.frameQueues.get(ws) === done) this.frameQueues.delete(ws);
    });
  }

  /** Handle one frame; a promise only when it must wait for D1. Never throws, never rejects. */
  private onFrame(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> | void {
    try {
      const actor = this.sockets.identity(ws);
      if (!actor) return ws.close(1011, "socket has no identity");
      const parsed = parseClientFrame(raw);
      if (!parsed.ok) return send(ws, { type: "error", code: parsed.code, message: parsed.message, ...(parsed.clientId ? { clientId: parsed.clientId } : {}) });
      if (!this.conversation.isMember(actor)) {
        send(ws, { type: "error", code: "forbidden", message: "you are no longer a member of this conversation" });
        return ws.close(CLOSE_CODES.notMember, "not a member");
      }
      const frame = parsed.frame;
      if (frame.type === "edit" || frame.type === "recall") {
        return this.policy().then((policy) => this.onChange(ws, actor, frame, policy)).catch((err: unknown) => internalError(ws, err));
      }
      return this.onLiveFrame(ws, actor, frame);
    } catch (err) {
      internalError(ws, err);
    }
  }

  private onLiveFrame(ws: WebSocket, actor: SocketIdentity, frame: Exclude<ClientFrame, { type: "edit" | "recall" }>): void {
    const now = this.clock.now();
    switch (frame.type) {
      case "send": {
        const result = this.conversation.send(actor, frame, now, (stored) => send(ws, { type: "ack", clientId: frame.clientId, seq: stored.message.seq, ts: stored.message.ts }));
        if (!result.ok) return send(ws, { type: "error", code: result.code, message: result.message, clientId: frame.clientId });
        if (result.value.status === "created") this.outbox.changed();
        return;
      }
      case "read":
        if (this.conversation.markRead(actor, frame.seq, ws).ok) this.outbox.changed();
        return;
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
        const result = this.actions.react(actor, frame.seq, emoji.data, frame.remove !== true, now);
        if (!result.ok) return send(ws, { type: "error", code: result.code, message: result.message });
        if (result.value.changed) this.outbox.changed();
        return;
      }
    }
  }

  private onChange(ws: WebSocket, actor: SocketIdentity, frame: Extract<ClientFrame, { type: "edit" | "recall" }>, policy: LifecyclePolicy): void {
    const now = this.clock.now();
    const result = frame.type === "edit" ? this.actions.edit(actor, frame.seq, frame.body, policy, now) : this.actions.recall(actor, frame.seq, policy, now);
    if (!result.ok) return send(ws, { type: "error", code: result.code, message: result.message });
    this.outbox.changed();
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.sockets.forget(ws);
    answerClose(ws, code, reason);
    this.logSessionEnd(ws, code);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.sockets.forget(ws);
    console.warn("websocket error", error);
    this.logSessionEnd(ws, 1006);
  }

  private logSessionEnd(ws: WebSocket, code: number): void {
    const actor = this.sockets.identity(ws);
    logLine("socket.closed", {
      requestId: actor?.requestId,
      tenantId: actor?.tenantId,
      actorKind: "user",
      actorId: actor?.userId,
      deviceId: actor?.deviceId,
      route: "/v1/conversations/:id/ws",
      conversationId: this.store.header.get()?.conversationId,
      status: code,
      durationMs: actor?.since === undefined ? undefined : Date.now() - actor.since,
    });
  }

  /** The tenant's edit and recall windows, read from D1 for each edit or recall (a settings change applies at once). */
  private policy(): Promise<LifecyclePolicy> {
    return readLifecyclePolicy(this.env.DB, this.store.header.require().tenantId);
  }

  // ---- RPC, called by the Worker with an identity it verified ----

  async openDirect(input: { tenantId: string; conversationId: string; members: [string, string]; actor: string }) {
    const result = this.roster.openDirect({ ...input, now: this.clock.now() });
    if (result.ok && result.value.created) await this.outbox.changedNow();
    return result;
  }

  async createGroup(input: { tenantId: string; conversationId: string; name: string; owner: string; members: string[] }) {
    return this.mirrored(this.roster.createGroup({ ...input, now: this.clock.now() }));
  }

  async getConversation(actor: Actor) {
    return this.conversation.view(actor);
  }

  async addMembers(actor: Actor, userIds: string[]) {
    return this.mirrored(this.roster.addMembers(actor, userIds, this.clock.now()));
  }

  async removeMember(actor: Actor, userId: string) {
    return this.mirrored(this.roster.removeMember(actor, userId, this.clock.now()));
  }

  async setRole(actor: Actor, userId: string, role: Role) {
    return this.mirrored(this.roster.setRole(actor, userId, role, this.clock.now()));
  }

  async sendMessage(actor: Actor, input: SendInput) {
    const result = this.conversation.send(actor, input, this.clock.now());
    return result.ok && result.value.status === "created" ? this.mirrored(result) : result;
  }

  async history(actor: Actor, range: HistoryRange): Promise<Result<Message[]>> {
    return this.conversation.history(actor, range);
  }

  async markRead(actor: Actor, seq: number) {
    return this.mirrored(this.conversation.markRead(actor, seq));
  }

  async setMuted(actor: Actor, muted: boolean) {
    return this.mirrored(this.conversation.setMuted(actor, muted));
  }

  async react(actor: Actor, seq: number, emoji: string, add: boolean) {
    return this.mirrored(this.actions.react(actor, seq, emoji, add, this.clock.now()));
  }

  async editMessage(actor: Actor, seq: number, body: unknown) {
    const denied = this.conversation.denied(actor);
    if (denied) return denied;
    const policy = await this.policy();
    return this.mirrored(this.actions.edit(actor, seq, body, policy, this.clock.now()));
  }

  async editHistory(actor: Actor, seq: number) {
    return this.actions.editHistory(actor, seq);
  }

  async recallMessage(actor: Actor, seq: number) {
    const denied = this.conversation.denied(actor);
    if (denied) return denied;
    const policy = await this.policy();
    return this.mirrored(this.actions.recall(actor, seq, policy, this.clock.now()));
  }

  /**
   * Search (D1) must leave the message out for this member too: the copy is written before the answer, on
   * every call, so a failed write fails the request and the client's retry (the hide itself is idempotent)
   * writes it again.
   */
  async hideMessage(actor: Actor, seq: number) {
    const result = this.conversation.hide(actor, seq);
    if (result.ok) {
      const room = this.store.header.require();
      await hideFromSearch(tenantDb(this.env, room.tenantId), { tenantId: room.tenantId, userId: actor.userId, conversationId: room.conversationId, seq });
    }
    return result;
  }

  async receipts(actor: Actor, seq: number) {
    return this.conversation.receipts(actor, seq);
  }

  async decide(actor: Actor, seq: number, input: DecisionInput) {
    const result = this.actions.decide(actor, seq, input, this.clock.now());
    return result.ok && result.value.decision.status === "created" ? this.mirrored(result) : result;
  }

  async registerAttachment(actor: Actor, upload: AttachmentUpload) {
    const result = this.conversation.registerAttachment(actor, upload);
    if (result.ok) await this.outbox.armOrphanSweep();
    return result;
  }

  async attachmentFor(actor: Actor, id: string) {
    return this.conversation.attachmentFor(actor, id);
  }

  async attachmentForLink(tenantId: string, id: string) {
    return this.conversation.attachmentForLink(tenantId, id);
  }

  async cardAction(actor: Actor, seq: number, action: string) {
    return this.mirrored(this.actions.cardAction(actor, seq, action, this.clock.now()));
  }

  async disconnectUser(userId: string, code: number, message: string): Promise<void> {
    this.sockets.disconnectUser(userId, code, message);
  }

  async purgeBefore(tenantId: string, cutoff: number): Promise<number> {
    const room = this.store.header.get();
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

function internalError(ws: WebSocket, err: unknown): void {
  console.error("webSocketMessage failed", err);
  send(ws, { type: "error", code: "internal_error", message: "the message could not be processed" });
}

function jsonError(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}): Response {
  return Response.json(errorBody(code, message), { status, headers });
}
