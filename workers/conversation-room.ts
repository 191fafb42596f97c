import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { RoomStore } from "../src/storage/room-store";
import { mirrorStatements } from "../src/storage/conversations";
import { hideFromSearch } from "../src/storage/search";
import { Conversation, type ConversationView, type Fanout, type LifecyclePolicy, type SendInput } from "../src/domain/conversation";
import type { Role } from "../src/domain/membership";
import type { Actor, Result } from "../src/domain/result";
import type { AttachmentRecord, SendResult } from "../src/storage/room-store";
import { attachmentKey } from "../src/storage/files";
import { endpointsOf, type EndpointRow, type OutboundEventType } from "../src/storage/endpoints";
import { tenantDb } from "../src/storage/shards";
import type { OutboundJob } from "../src/crm/outbound";
import type { Message, ServerFrame } from "../src/protocol/frames";
import { parseClientFrame, PING_TEXT, PONG_TEXT } from "../src/protocol/frames";
import { LIMITS } from "../src/protocol/limits";
import { TokenBucket } from "../src/domain/rate";
import { errorBody } from "../src/http/errors";
import { presenceShard, shardCount, type NotifyMember } from "../src/domain/notify";
import { describeIssue, Emoji, previewOf } from "../src/domain/kinds";
import { presenceStub } from "../src/objects";
import { ACTOR_HEADER } from "../src/protocol/internal";
import { answerClose, parseHeaderJson, trySend } from "../src/protocol/sockets";


/** Delay between a change and its D1 mirror flush: long enough to coalesce a burst, short enough to feel live. */
export const MIRROR_DELAY_MS = 200;
const MIRROR_RETRY_MAX_MS = 5 * 60_000;
/** An upload never sent in a message is deleted after this long. */
export const ORPHAN_AFTER_MS = 24 * 3600_000;
/** How long a conversation trusts its cached list of the tenant's outbound endpoints. */
export const ENDPOINT_CACHE_MS = 30_000;
const OUTBOUND_BATCH = 100;
/** Messages read from SQLite per step of a replay. */
const REPLAY_PAGE = 500;
/** How long new messages wait to be handed to presence together. */
export const NOTIFY_COALESCE_MS = 10;
/** Messages per notify call to presence. */
const NOTIFY_BATCH = 100;

const SocketActor = z.object({
  tenantId: z.string(),
  userId: z.string(),
  deviceId: z.string(),
});
type SocketActor = z.infer<typeof SocketActor>;

/**
 * One conversation: its ordered log, members and live sockets. The single writer of `seq`.
 * Runtime handlers decode and delegate to {@link Conversation}; side effects leave through the outbox
 * (a change counter mirrored to D1 by the alarm), never on the per-message path.
 */
export class ConversationRoom extends DurableObject<Env> implements Fanout {
  private readonly store: RoomStore;
  private readonly conversation: Conversation;
  private readonly typingBuckets = new WeakMap<WebSocket, TokenBucket>();
  private alarmArmed = false;
  private flushTail: Promise<void> | undefined;
  private notifying = false;
  private notifyAgain = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new RoomStore(ctx.storage);
    this.conversation = new Conversation(this.store, this);
    ctx.blockConcurrencyWhile(async () => this.store.migrate());
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
    if (this.ctx.getWebSockets().length >= LIMITS.socketsPerConversation) {
      return jsonError(429, "rate_limited", "this conversation has too many open connections", { "Retry-After": "5" });
    }
    const after = Number(new URL(request.url).searchParams.get("after") ?? "0");
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [`u:${actor.data.userId}`, `d:${actor.data.deviceId}`]);
    server.serializeAttachment(actor.data satisfies SocketActor);
    const room = this.store.requireRoom();
    send(server, { type: "ready", conversationId: room.conversationId, lastSeq: room.lastSeq });
    // Replay in pages, each decorated for this reader (reactions, deletions for them only).
    let cursor = after;
    for (;;) {
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
      const now = Date.now();
      switch (frame.type) {
        case "send": {
          const result = this.conversation.send(actor, frame satisfies SendInput, now, (stored) =>
            send(ws, { type: "ack", clientId: frame.clientId, seq: stored.message.seq, ts: stored.message.ts }),
          );
          if (!result.ok) return send(ws, { type: "error", code: result.code, message: result.message, clientId: frame.clientId });
          if (result.value.status === "created") this.outbox();
          return;
        }
        case "read": {
          const result = this.conversation.markRead(actor, frame.seq, ws);
          if (result.ok) this.outbox();
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
          if (result.value.changed) this.outbox();
          return;
        }
        case "edit":
        case "recall": {
          const policy = await this.lifecyclePolicy();
          const result =
            frame.type === "edit"
              ? this.conversation.edit(actor, frame.seq, frame.body, policy, Date.now())
              : this.conversation.recall(actor, frame.seq, policy, Date.now());
          if (!result.ok) return send(ws, { type: "error", code: result.code, message: result.message });
          this.outbox();
          return;
        }
      }
    } catch (err) {
      console.error("webSocketMessage failed", err);
      send(ws, { type: "error", code: "internal_error", message: "the message could not be processed" });
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    answerClose(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    console.warn("websocket error", error);
  }

  // ---- Fanout ----

  broadcast(frame: ServerFrame, skip?: (userId: string, socket: unknown) => boolean): void {
    const data = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets()) {
      if (skip) {
        const actor = socketActor(ws);
        if (!actor || skip(actor.userId, ws)) continue;
      }
      trySend(ws, data);
    }
  }

  discardFile(attachmentId: string): void {
    const room = this.store.requireRoom();
    void this.env.FILES.delete(attachmentKey(room.tenantId, room.conversationId, attachmentId)).catch((err: unknown) =>
      console.error("could not delete a recalled attachment", err),
    );
  }

  toUser(userId: string, frame: ServerFrame): void {
    const data = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets(`u:${userId}`)) trySend(ws, data);
  }

  disconnectUser(userId: string, code: number, message: string): void {
    const data = JSON.stringify({ type: "error", code: "forbidden", message } satisfies ServerFrame);
    for (const ws of this.ctx.getWebSockets(`u:${userId}`)) {
      trySend(ws, data);
      try {
        ws.close(code, message);
      } catch {
        // already closing
      }
    }
  }

  // ---- RPC, called by the Worker with an identity it verified ----

  async openDirect(input: { tenantId: string; conversationId: string; members: [string, string]; actor: string }) {
    const result = this.conversation.openDirect({ ...input, now: Date.now() });
    if (result.ok && result.value.created) await this.mirrorNow();
    return result;
  }

  async createGroup(input: { tenantId: string; conversationId: string; name: string; owner: string; members: string[] }) {
    const result = this.conversation.createGroup({ ...input, now: Date.now() });
    if (result.ok) await this.mirrorNow();
    return result;
  }

  async getConversation(actor: Actor): Promise<Result<ConversationView>> {
    return this.conversation.view(actor);
  }

  async addMembers(actor: Actor, userIds: string[]): Promise<Result<ConversationView>> {
    return this.mirrored(this.conversation.addMembers(actor, userIds, Date.now()));
  }

  async removeMember(actor: Actor, userId: string): Promise<Result<{ removed: boolean }>> {
    return this.mirrored(this.conversation.removeMember(actor, userId, Date.now()));
  }

  async setRole(actor: Actor, userId: string, role: Role): Promise<Result<ConversationView>> {
    return this.mirrored(this.conversation.setRole(actor, userId, role, Date.now()));
  }

  async sendMessage(actor: Actor, input: SendInput): Promise<Result<SendResult>> {
    const result = this.conversation.send(actor, input, Date.now());
    return result.ok && result.value.status === "created" ? this.mirrored(result) : result;
  }

  async history(actor: Actor, range: { after?: number | undefined; before?: number | undefined; limit: number }): Promise<Result<Message[]>> {
    return this.conversation.history(actor, range);
  }

  async react(actor: Actor, seq: number, emoji: string, add: boolean) {
    return this.mirrored(this.conversation.react(actor, seq, emoji, add, Date.now()));
  }

  async editMessage(actor: Actor, seq: number, body: unknown): Promise<Result<Message>> {
    const policy = await this.lifecyclePolicy();
    return this.mirrored(this.conversation.edit(actor, seq, body, policy, Date.now()));
  }

  async editHistory(actor: Actor, seq: number) {
    return this.conversation.editHistory(actor, seq);
  }

  async recallMessage(actor: Actor, seq: number): Promise<Result<Message>> {
    const policy = await this.lifecyclePolicy();
    return this.mirrored(this.conversation.recall(actor, seq, policy, Date.now()));
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
    const result = this.conversation.decide(actor, seq, input, Date.now());
    if (result.ok && result.value.decision.status === "created" && result.value.final) {
      this.emitApprovalDecided(result.value.request);
      this.scheduleMirror();
    }
    return result.ok && result.value.decision.status === "created" ? this.mirrored(result) : result;
  }

  async registerAttachment(actor: Actor, upload: Omit<AttachmentRecord, "uploader" | "sentSeq">): Promise<Result<AttachmentRecord>> {
    const result = this.conversation.registerAttachment(actor, upload);
    if (result.ok) await this.armOrphanSweep();
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

  /** Make sure the alarm runs when the oldest unsent upload becomes an orphan. */
  private async armOrphanSweep(): Promise<void> {
    const oldest = this.store.oldestUnsentAttachment();
    if (oldest === undefined) return;
    const due = oldest + ORPHAN_AFTER_MS + 1_000;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > due) await this.ctx.storage.setAlarm(due);
  }

  /** Delete uploads that were never sent within ORPHAN_AFTER_MS, bytes first. */
  private async sweepOrphans(now: number): Promise<void> {
    const room = this.store.getRoom();
    if (!room) return;
    const orphans = this.store.orphanAttachments(now - ORPHAN_AFTER_MS);
    if (orphans.length === 0) return;
    await this.env.FILES.delete(orphans.map((id) => attachmentKey(room.tenantId, room.conversationId, id)));
    for (const id of orphans) this.store.deleteAttachment(id);
  }

  /** Someone acted on a CRM card (e.g. "claim", "call", "won"): an event in the stream and for the CRM. */
  async cardAction(actor: Actor, seq: number, action: string) {
    const result = this.conversation.cardAction(actor, seq, action, Date.now());
    if (!result.ok) return result;
    const card = result.value.card;
    this.store.enqueueOutbound("card.action", {
      conversationId: card.conversationId,
      seq: card.seq,
      action,
      userId: actor.userId,
      card: card.body,
    });
    this.scheduleMirror();
    return this.mirrored(result);
  }

  private endpointCache: { at: number; endpoints: EndpointRow[] } | undefined;

  /** The tenant's outbound endpoints, cached for ENDPOINT_CACHE_MS (new endpoints apply within that). */
  private async outboundEndpoints(tenantId: string): Promise<EndpointRow[]> {
    const now = Date.now();
    if (!this.endpointCache || now - this.endpointCache.at > ENDPOINT_CACHE_MS) {
      this.endpointCache = { at: now, endpoints: await endpointsOf(this.env.DB, tenantId) };
    }
    return this.endpointCache.endpoints;
  }

  /**
   * Outbound CRM events: new messages (message.created, above the outbound watermark) and queued
   * events (card.action, approval.decided) become one queue job per subscribed endpoint. The
   * watermark moves only after the queue accepted the jobs; event ids make redelivery harmless.
   */
  private async drainOutbound(): Promise<void> {
    const room = this.store.getRoom();
    if (!room) return;
    const pending = this.store.pendingOutbound(OUTBOUND_BATCH);
    if (room.outboundSeq >= room.lastSeq && pending.length === 0) return;
    const endpoints = await this.outboundEndpoints(room.tenantId);
    const messages = room.outboundSeq < room.lastSeq ? this.store.page({ after: room.outboundSeq, limit: OUTBOUND_BATCH }) : [];
    const now = Date.now();
    const conversation = { id: room.conversationId, type: room.type, name: room.name };
    const jobs: OutboundJob[] = [];
    const wants = (e: EndpointRow, type: OutboundEventType) =>
      e.events.includes(type) && (e.conversationIds === null || e.conversationIds.includes(room.conversationId));
    for (const m of messages) {
      if (m.kind === "system") continue;
      for (const e of endpoints) {
        if (wants(e, "message.created")) {
          jobs.push({ eventId: `${room.conversationId}:${m.seq}:message.created`, endpointId: e.id, tenantId: room.tenantId, type: "message.created", data: { conversation, message: m }, createdAt: now });
        }
      }
    }
    for (const p of pending) {
      const type = p.type as OutboundEventType;
      for (const e of endpoints) {
        if (wants(e, type)) jobs.push({ eventId: `${room.conversationId}:e${p.id}:${type}`, endpointId: e.id, tenantId: room.tenantId, type, data: { conversation, ...p.payload }, createdAt: p.createdAt });
      }
    }
    for (let i = 0; i < jobs.length; i += 100) await this.env.EVENTS_QUEUE.sendBatch(jobs.slice(i, i + 100).map((body) => ({ body })));
    const lastMessage = messages.at(-1);
    if (lastMessage) this.store.markOutboundSeq(lastMessage.seq);
    const lastPending = pending.at(-1);
    if (lastPending) this.store.deleteOutbound(lastPending.id);
    if (messages.length === OUTBOUND_BATCH || pending.length === OUTBOUND_BATCH) this.scheduleMirror();
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
    });
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
    return this.store.purgeBefore(cutoff);
  }

  // ---- Outbox: mirror to D1 ----

  /**
   * HTTP callers get read-your-writes on the D1 listing: the flush runs before the response.
   * A failed flush does not fail the request (the change is durable); the alarm retries it.
   */
  private async mirrored<T>(result: Result<T>): Promise<Result<T>> {
    if (result.ok) {
      this.kickNotify();
      await this.mirrorNow();
      // Outbound CRM events are not on the response path: the alarm hands them to the queue.
      const room = this.store.getRoom();
      if (room && room.outboundSeq < room.lastSeq) this.scheduleMirror();
    }
    return result;
  }

  /** After a change on the WebSocket path: notify now, mirror on the alarm's cadence. */
  private outbox(): void {
    this.kickNotify();
    this.scheduleMirror();
  }

  /**
   * Hand new messages to presence right away (the notify latency is what people feel); the
   * watermark `notified_seq` makes it an outbox: a failure is retried by the alarm, and presence
   * ignores seqs it has already handled.
   */
  private kickNotify(): void {
    const room = this.store.getRoom();
    if (!room || room.notifiedSeq >= room.lastSeq) return;
    if (this.notifying) {
      this.notifyAgain = true;
      return;
    }
    this.notifying = true;
    // A few milliseconds of coalescing: under load one hand-over carries many messages, which is
    // what keeps presence's work (and both watermarks' writes) off the per-message cost.
    void new Promise((resolve) => setTimeout(resolve, NOTIFY_COALESCE_MS))
      .then(() => this.drainNotify())
      .catch((err) => {
        console.error("notify failed; the alarm retries it", err);
        this.scheduleMirror();
      })
      .finally(() => {
        this.notifying = false;
        if (this.notifyAgain) {
          this.notifyAgain = false;
          this.kickNotify();
        }
      });
  }

  private async drainNotify(): Promise<void> {
    for (;;) {
      const room = this.store.requireRoom();
      if (room.notifiedSeq >= room.lastSeq) return;
      const messages = this.store.page({ after: room.notifiedSeq, limit: NOTIFY_BATCH });
      const last = messages.at(-1);
      if (!last) return;
      const shards = shardCount(this.env.PRESENCE_SHARDS);
      const byShard = new Map<number, NotifyMember[]>();
      for (const m of this.store.activeMembers().values()) {
        const shard = presenceShard(m.userId, shards);
        const member = { userId: m.userId, muted: m.muted, unread: Math.max(0, room.lastSeq - m.readSeq) };
        byShard.set(shard, [...(byShard.get(shard) ?? []), member]);
      }
      const notifyMessages = messages.map((m) => ({
        seq: m.seq,
        sender: m.sender,
        kind: m.kind,
        preview: previewOf(m.kind, m.body),
        mentions: Array.isArray(m.body.mentions) ? m.body.mentions.filter((x): x is string => typeof x === "string") : [],
      }));
      await Promise.all(
        [...byShard].map(([shard, members]) =>
          presenceStub(this.env, room.tenantId, shard).notify(
            { tenantId: room.tenantId, shard },
            {
              tenantId: room.tenantId,
              conversationId: room.conversationId,
              conversationType: room.type,
              conversationName: room.name,
              members,
              messages: notifyMessages,
            },
          ),
        ),
      );
      this.store.markNotified(last.seq);
    }
  }

  private async mirrorNow(): Promise<void> {
    try {
      await this.flushMirror();
    } catch (err) {
      console.error("mirror flush failed; the alarm retries it", err);
      this.scheduleMirror();
    }
  }

  private scheduleMirror(): void {
    if (this.alarmArmed) return;
    this.alarmArmed = true;
    void this.ctx.storage.setAlarm(Date.now() + MIRROR_DELAY_MS);
  }

  override async alarm(): Promise<void> {
    this.alarmArmed = false;
    this.kickNotify();
    try {
      await this.sweepOrphans(Date.now());
      await this.armOrphanSweep();
    } catch (err) {
      console.error("orphan sweep failed; the next alarm retries it", err);
    }
    try {
      await this.drainOutbound();
    } catch (err) {
      console.error("outbound events failed; retrying", err);
      this.scheduleMirror();
    }
    try {
      await this.flushMirror();
    } catch (err) {
      const attempts = this.store.mirrorFailed();
      const delay = Math.min(MIRROR_DELAY_MS * 2 ** attempts, MIRROR_RETRY_MAX_MS);
      console.error(`mirror flush failed (attempt ${attempts}); retrying in ${delay} ms`, err);
      this.alarmArmed = true;
      await this.ctx.storage.setAlarm(Date.now() + delay);
    }
  }

  /** Copy what changed to D1 in one batch; flushes run one after another, never side by side. */
  private flushMirror(): Promise<void> {
    const run = async () => {
      if (!this.store.getRoom()) return;
      const snapshot = this.store.mirrorSnapshot();
      if (!snapshot) return;
      const db = tenantDb(this.env, snapshot.tenantId);
      await db.batch(mirrorStatements(db, snapshot));
      this.store.markMirrored(snapshot.version, snapshot.historyThrough, snapshot.revised);
      // A long backlog (a backfill after deploy) goes out flush after flush.
      if (this.store.requireRoom().mirroredSeq < this.store.requireRoom().lastSeq) this.scheduleMirror();
    };
    const next = (this.flushTail ?? Promise.resolve()).then(run, run);
    this.flushTail = next.catch(() => undefined);
    return next;
  }
}

function socketActor(ws: WebSocket): SocketActor | undefined {
  const parsed = SocketActor.safeParse(ws.deserializeAttachment());
  return parsed.success ? parsed.data : undefined;
}

function send(ws: WebSocket, frame: ServerFrame): void {
  trySend(ws, JSON.stringify(frame));
}



function jsonError(status: number, code: Parameters<typeof errorBody>[0], message: string, headers: Record<string, string> = {}): Response {
  return Response.json(errorBody(code, message), { status, headers });
}

