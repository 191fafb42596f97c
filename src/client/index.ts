/**
 * Switchboard client SDK: one conversation over one WebSocket, with resume, idempotent retries and
 * reconnection. Runs in browsers, Node 22+ and workerd.
 *
 * This file must stay loadable by Node's built-in type stripping (`node scripts/chat.mjs` imports it
 * directly): only `import type` from the rest of the repository, no runtime imports at all, and only
 * erasable TypeScript syntax (no enums, namespaces or constructor parameter properties).
 */
import type { z } from "zod";
import type { ErrorCode, Message, ServerFrame } from "../protocol/frames";
import type { ApprovalBody, AttachmentBody, CrmCardBody, LogBody, SendableKind, TextBody } from "../domain/kinds";
import type { Clock } from "./clock";
import { CLOSE_CODES } from "../protocol/close-codes.ts";

export type { ErrorCode, JsonObject, JsonValue, Message, ServerFrame, ClientFrame } from "../protocol/frames";
export type { MessageKind, SendableKind } from "../domain/kinds";
/** The attachment types the server accepts (a tenant may allow fewer; the server says so). */
export { SUPPORTED_TYPES as ATTACHMENT_TYPES } from "../domain/files.ts";
export type { Clock } from "./clock";

/** The real clock (kept here, not imported: this file has no runtime imports). */
const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The body each sendable kind accepts (the server validates it again). */
export interface SendBodies {
  text: z.input<typeof TextBody>;
  image: z.input<typeof AttachmentBody>;
  file: z.input<typeof AttachmentBody>;
  log: z.input<typeof LogBody>;
  approval: z.input<typeof ApprovalBody>;
  crm: z.input<typeof CrmCardBody>;
}

/** The server's acknowledgement of a send: the message is durably stored as `seq`. */
export interface Ack {
  clientId: string;
  seq: number;
  ts: number;
}

/** The minimum of a WebSocket the client needs: the standard one, Node's, and workerd's all fit. */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", listener: (event: unknown) => void): void;
}

export type ConnectionState = "connecting" | "open" | "closed";

/** Codes of {@link SwitchboardError}: the server's error codes plus a few the client produces itself. */
export type ClientErrorCode =
  | ErrorCode
  /** `close()` was called (pending sends are rejected with it). */
  | "closed"
  /** The server sent a frame the client could not read. */
  | "protocol_error";

export interface ClientOptions {
  /** The service, e.g. `https://switchboard.example.com` (a `ws(s)://` base works too). */
  baseUrl: string;
  /** A user token, or a function returning a fresh one (called before every connection attempt). */
  token: string | (() => string | Promise<string>);
  conversationId: string;
  /** Resume after this seq: the server replays every message with a higher seq first. Default 0 (all history). */
  after?: number;
  /** This device's id (`[A-Za-z0-9_.-]{1,64}`); rate limits are per device. */
  deviceId?: string;
  /**
   * Open a WebSocket to `url` (a `ws:`/`wss:` URL). Default: the global `WebSocket`.
   * To report a refused upgrade, throw (or reject with) an error carrying the HTTP `status`,
   * e.g. {@link UpgradeRefusedError}: 400/401/403/404 end the client, anything else is retried.
   */
  connect?: (url: string) => Promise<WebSocketLike> | WebSocketLike;
  /**
   * Used only to tell a refused upgrade from a network failure when the socket closes before
   * `ready` without saying why (browsers never expose the HTTP status of a refused upgrade).
   * Default: the global `fetch`.
   */
  fetch?: (url: string, init: { headers: Record<string, string> }) => Promise<{ status: number }>;
  /** Reconnect delays: exponential from `initialMs` up to `maxMs`, with jitter. Default 250 ms .. 10 s. */
  backoff?: { initialMs: number; maxMs: number };
  /** Client ids for sends. Default `crypto.randomUUID()`. */
  clientId?: () => string;
  /** Ping the server this often; a socket that stays silent for a whole interval is replaced. 0 disables. Default 25 s. */
  pingIntervalMs?: number;
  /** The clock for reconnect backoff, pacing, pings and the typing throttle. Default: the real one. */
  clock?: Clock;
}

/** An error from the server (an `error` frame or a refused upgrade) or from the client itself. */
export class SwitchboardError extends Error {
  readonly code: ClientErrorCode;
  /** The send this error answers, when it answers one. */
  readonly clientId: string | undefined;
  /** HTTP status of a refused upgrade. */
  readonly status: number | undefined;
  /** WebSocket close code that ended the client. */
  readonly closeCode: number | undefined;
  /** True when the client has stopped for good because of it. */
  readonly fatal: boolean;

  constructor(
    code: ClientErrorCode,
    message: string,
    details: { clientId?: string | undefined; status?: number | undefined; closeCode?: number | undefined; fatal?: boolean } = {},
  ) {
    super(message);
    this.name = "SwitchboardError";
    this.code = code;
    this.clientId = details.clientId;
    this.status = details.status;
    this.closeCode = details.closeCode;
    this.fatal = details.fatal ?? false;
  }
}

/** What a custom `connect` throws when the server answers the upgrade with an HTTP error. */
export class UpgradeRefusedError extends Error {
  readonly status: number;
  readonly code: string | undefined;

  constructor(status: number, code?: string, message?: string) {
    super(message ?? `WebSocket upgrade refused with HTTP ${status}`);
    this.name = "UpgradeRefusedError";
    this.status = status;
    this.code = code;
  }
}

/** Payloads of the client's events. */
export interface ClientEvents {
  /** A connection is ready; `lastSeq` is the conversation's latest seq at that moment. */
  ready: { conversationId: string; lastSeq: number };
  /** A message, in seq order, each exactly once (your own sends included). */
  message: Message;
  /** An acknowledgement of one of this client's sends. */
  ack: Ack;
  /** A member's read cursor moved. */
  read: { userId: string; seq: number };
  /** A member is typing. */
  typing: { userId: string };
  /** A message was deleted for this user (on another of their devices): stop showing it. */
  hidden: { seq: number };
  /** An error not tied to a pending send; `fatal` ones end the client. */
  error: SwitchboardError;
  /** The connection state changed. */
  state: ConnectionState;
}

type Listener<E extends keyof ClientEvents> = (payload: ClientEvents[E]) => void;
type AnyListener = (payload: never) => void;

interface Pending {
  clientId: string;
  frame: string;
  resolve: (ack: Ack) => void;
  reject: (error: SwitchboardError) => void;
  /** The connection it was last written to; it is written again on every new connection until acked. */
  sentOn: Connection | undefined;
  /** Held back while the server is rate limiting this device; sent one at a time by the pacer. */
  held: boolean;
}

interface Connection {
  socket: WebSocketLike | undefined;
  ready: boolean;
  /** Whether anything arrived since the last ping. */
  heard: boolean;
}

/** Mirrors LIMITS.frameBytes (src/protocol/limits.ts); the client cannot import it at runtime. */
const FRAME_BYTES = 32 * 1024;
const PING_TEXT = '{"type":"ping"}';
/** Close codes after which reconnecting cannot help (4400 and 4404 by the 4000 + HTTP status rule). */
const FATAL_CLOSE: Record<number, ErrorCode> = {
  4400: "invalid_request",
  [CLOSE_CODES.revoked]: "unauthorized",
  [CLOSE_CODES.notMember]: "forbidden",
  4404: "not_found",
};
/** Refused-upgrade statuses after which reconnecting cannot help. */
const FATAL_STATUS: Record<number, ErrorCode> = { 400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found" };
const TYPING_MIN_INTERVAL_MS = 1_000;

/**
 * A live connection to one conversation.
 *
 * ```ts
 * const client = new ConversationClient({ baseUrl, token, conversationId });
 * client.on("message", (m) => console.log(m.seq, m.sender, m.body));
 * await client.connect();
 * const { seq } = await client.send("text", { text: "hello" });
 * ```
 *
 * Messages arrive once each, in seq order, across reconnects. A send is kept until the server acks it
 * and is written again (same clientId, original order) on every new connection; the server stores it once.
 */
export class ConversationClient {
  private readonly options: ClientOptions;
  private readonly listeners = new Map<keyof ClientEvents, Set<AnyListener>>();
  private readonly pending = new Map<string, Pending>();
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly pingIntervalMs: number;

  private conn: Connection | undefined;
  private seq: number;
  private currentState: ConnectionState = "closed";
  private started = false;
  private stopped = false;
  private fatalError: SwitchboardError | undefined;
  private attempt = 0;
  private readonly clock: Clock;
  private reconnectTimer: unknown;
  private pingTimer: unknown;
  private readWanted = 0;
  private readSent = 0;
  private lastTypingAt = -Infinity;
  /**
   * Rate limiting: after a `rate_limited` answer the client stops pipelining. Held frames go out one at a
   * time, in original order, each after the previous one is answered; another `rate_limited` waits a backoff first.
   */
  private throttled = false;
  private pacing: Pending | undefined;
  private paceTimer: unknown;
  private rateLimitStreak = 0;
  private firstReady: { promise: Promise<void>; resolve: () => void; reject: (e: SwitchboardError) => void };

  constructor(options: ClientOptions) {
    new URL(options.baseUrl); // throws a TypeError now rather than failing every connection attempt later
    if (!options.connect && !(globalThis as { WebSocket?: unknown }).WebSocket) {
      throw new TypeError("ConversationClient: this runtime has no global WebSocket; pass a `connect` option");
    }
    this.options = options;
    this.seq = Math.max(0, Math.floor(options.after ?? 0));
    this.backoff = options.backoff ?? { initialMs: 250, maxMs: 10_000 };
    this.pingIntervalMs = options.pingIntervalMs ?? 25_000;
    this.clock = options.clock ?? SYSTEM_CLOCK;
    let resolve!: () => void;
    let reject!: (e: SwitchboardError) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined); // nobody has to await connect()
    this.firstReady = { promise, resolve, reject };
  }

  /** The highest seq received in order (or the `after` option until something arrives). Resume from it. */
  get lastSeq(): number {
    return this.seq;
  }

  /** `connecting` (dialing or waiting to redial), `open` (ready received) or `closed` (not started, or ended). */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** Sends not acknowledged yet. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** The error that ended the client, if one did. */
  get error(): SwitchboardError | undefined {
    return this.fatalError;
  }

  /** Subscribe to an event. Returns a function that unsubscribes. */
  on<E extends keyof ClientEvents>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as AnyListener);
    return () => this.off(event, listener);
  }

  /** Unsubscribe a listener added with {@link on}. */
  off<E extends keyof ClientEvents>(event: E, listener: Listener<E>): void {
    this.listeners.get(event)?.delete(listener as AnyListener);
  }

  /**
   * Start connecting (once; later calls return the same promise). Resolves at the first `ready`;
   * rejects if the client ends first (a fatal error or {@link close}). Transient failures are retried.
   */
  connect(): Promise<void> {
    if (!this.started && !this.stopped) {
      this.started = true;
      void this.dial();
    }
    return this.firstReady.promise;
  }

  /**
   * Send a message. Resolves with the server's ack once the message is durably stored. Until then the
   * frame is kept and re-sent with the same clientId after every reconnect, so it is stored exactly once.
   * Rejects on an `error` frame for it (after retrying `rate_limited` with backoff), or when the client ends.
   * `options.clientId` reuses an id (e.g. from a persisted outbox); `options.replyTo` is the seq answered.
   */
  send<K extends SendableKind>(kind: K, body: SendBodies[K], options: { clientId?: string; replyTo?: number } = {}): Promise<Ack> {
    if (this.stopped) return Promise.reject(this.endError());
    const clientId = options.clientId ?? (this.options.clientId ? this.options.clientId() : crypto.randomUUID());
    if (this.pending.has(clientId)) return Promise.reject(new SwitchboardError("conflict", `clientId ${clientId} is already pending`, { clientId }));
    const frame = JSON.stringify({ type: "send", clientId, kind, body, ...(options.replyTo !== undefined ? { replyTo: options.replyTo } : {}) });
    if (new TextEncoder().encode(frame).byteLength > FRAME_BYTES) {
      return Promise.reject(new SwitchboardError("too_large", `frame: must be at most ${FRAME_BYTES} bytes`, { clientId }));
    }
    return new Promise<Ack>((resolve, reject) => {
      const entry: Pending = { clientId, frame, resolve, reject, sentOn: undefined, held: false };
      this.pending.set(clientId, entry);
      if (this.throttled) entry.held = true; // wait behind the frames the server pushed back, keeping order
      else if (this.conn?.ready) this.transmit(entry);
    });
  }

  /** Move this user's read cursor to `seq` (forward only). Sent now if connected, else on the next connection. */
  markRead(seq: number): void {
    if (seq <= this.readWanted) return;
    this.readWanted = seq;
    this.flushRead();
  }

  /** Tell the other members this user is typing. Throttled to one frame a second; dropped while disconnected. */
  typing(): boolean {
    const now = this.clock.now();
    if (!this.conn?.ready || now - this.lastTypingAt < TYPING_MIN_INTERVAL_MS) return false;
    this.lastTypingAt = now;
    return this.write('{"type":"typing"}');
  }

  /** Stop for good: close the socket, cancel reconnects, reject every pending send with code `closed`. */
  close(): void {
    if (this.stopped) return;
    this.end(new SwitchboardError("closed", "the client was closed"), false);
  }

  // ---- connection lifecycle ----

  private async dial(): Promise<void> {
    if (this.stopped) return;
    const conn: Connection = { socket: undefined, ready: false, heard: true };
    this.conn = conn;
    this.setState("connecting");
    let socket: WebSocketLike;
    try {
      const url = await this.socketUrl();
      if (this.conn !== conn) return;
      socket = await (this.options.connect ?? defaultConnect)(url);
    } catch (err) {
      if (this.conn !== conn) return;
      const status = statusOf(err);
      const fatal = status === undefined ? undefined : FATAL_STATUS[status];
      if (fatal) {
        const code = (err as { code?: unknown }).code;
        this.end(new SwitchboardError(fatal, `connection refused: HTTP ${status}${typeof code === "string" ? ` ${code}` : ""}`, { status, fatal: true }), true);
      } else {
        this.lost(conn);
      }
      return;
    }
    if (this.conn !== conn) {
      safeClose(socket, 1000, "superseded");
      return;
    }
    conn.socket = socket;
    socket.addEventListener("message", (event) => {
      if (this.conn === conn) this.onFrame(conn, event.data);
    });
    socket.addEventListener("close", (event) => {
      if (this.conn === conn) this.onClose(conn, event.code, event.reason);
    });
    socket.addEventListener("error", () => {
      // A close event follows; that is where the client reacts.
    });
  }

  private onClose(conn: Connection, code: number, reason: string): void {
    const fatal = FATAL_CLOSE[code];
    if (fatal) {
      this.end(new SwitchboardError(fatal, reason || `connection closed with code ${code}`, { closeCode: code, fatal: true }), true);
      return;
    }
    if (!conn.ready) {
      // Closed before ready: maybe a refused upgrade the runtime did not describe. Ask over HTTP.
      void this.probe().then((refusal) => {
        if (this.conn !== conn) return;
        if (refusal) this.end(refusal, true);
        else this.lost(conn);
      });
      return;
    }
    this.lost(conn);
  }

  /** The connection is gone (or never came up): try again after a backoff delay. */
  private lost(conn: Connection): void {
    if (this.stopped || this.conn !== conn) return;
    this.conn = undefined;
    this.stopPing();
    this.stopPacing();
    if (conn.socket) safeClose(conn.socket, 1000, "reconnecting");
    this.setState("connecting");
    const delay = this.delay(this.attempt++);
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.dial();
    }, delay);
  }

  /** End the client: no more reconnects; pending sends are rejected with `error`. */
  private end(error: SwitchboardError, emit: boolean): void {
    if (this.stopped) return;
    this.stopped = true;
    this.fatalError = error.code === "closed" ? undefined : error;
    if (this.reconnectTimer !== undefined) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopPing();
    this.stopPacing();
    const conn = this.conn;
    this.conn = undefined;
    if (conn?.socket) safeClose(conn.socket, 1000, "client closed");
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      p.reject(new SwitchboardError(error.code, error.message, { clientId: p.clientId, status: error.status, closeCode: error.closeCode, fatal: error.fatal }));
    }
    this.firstReady.reject(error);
    if (emit) this.emit("error", error);
    this.setState("closed");
  }

  private endError(): SwitchboardError {
    return this.fatalError ?? new SwitchboardError("closed", "the client was closed");
  }

  private async probe(): Promise<SwitchboardError | undefined> {
    const fetcher = this.options.fetch ?? (globalThis as { fetch?: ClientOptions["fetch"] }).fetch;
    if (!fetcher) return undefined;
    try {
      const token = await this.tokenNow();
      const res = await fetcher(`${httpBase(this.options.baseUrl)}/v1/conversations/${encodeURIComponent(this.options.conversationId)}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const fatal = FATAL_STATUS[res.status];
      return fatal ? new SwitchboardError(fatal, `connection refused: HTTP ${res.status}`, { status: res.status, fatal: true }) : undefined;
    } catch {
      return undefined; // the network is down: retry
    }
  }

  // ---- frames ----

  private onFrame(conn: Connection, data: unknown): void {
    conn.heard = true;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer)) as ServerFrame;
    } catch {
      this.emit("error", new SwitchboardError("protocol_error", "the server sent a frame that is not JSON"));
      return;
    }
    switch (frame.type) {
      case "ready":
        return this.onReady(conn, frame);
      case "message":
        return this.onMessage(frame.message);
      case "ack":
        return this.onAck(frame);
      case "read":
        return this.emit("read", { userId: frame.userId, seq: frame.seq });
      case "typing":
        return this.emit("typing", { userId: frame.userId });
      case "hidden":
        return this.emit("hidden", { seq: frame.seq });
      case "error":
        return this.onError(frame);
      default:
        return; // pong, or a frame type newer than this client
    }
  }

  private onReady(conn: Connection, frame: Extract<ServerFrame, { type: "ready" }>): void {
    conn.ready = true;
    this.attempt = 0;
    // The server's log is the truth: a cursor past its end would hide every new message.
    if (frame.lastSeq < this.seq) this.seq = frame.lastSeq;
    this.setState("open");
    this.emit("ready", { conversationId: frame.conversationId, lastSeq: frame.lastSeq });
    if (this.conn !== conn) return; // a listener closed the client
    this.firstReady.resolve();
    // Re-send every unacknowledged frame, in original order, with its original clientId.
    this.stopPacing();
    for (const p of this.pending.values()) {
      p.held = false;
      this.transmit(p);
    }
    this.readSent = 0;
    this.flushRead();
    this.startPing(conn);
  }

  private onMessage(message: Message): void {
    // Seqs may skip (history removed by retention, messages this user deleted for themselves), never go back.
    if (message.seq <= this.seq) return; // already delivered
    this.seq = message.seq;
    // The message itself proves a pending send was stored, should its ack have been lost.
    const mine = this.pending.get(message.clientId);
    if (mine && mine.sentOn !== undefined) this.settle(mine, { clientId: message.clientId, seq: message.seq, ts: message.ts });
    this.emit("message", message);
  }

  private onAck(ack: Extract<ServerFrame, { type: "ack" }>): void {
    const value: Ack = { clientId: ack.clientId, seq: ack.seq, ts: ack.ts };
    const entry = this.pending.get(ack.clientId);
    if (entry) this.settle(entry, value);
    this.emit("ack", value);
  }

  private settle(entry: Pending, ack: Ack): void {
    this.pending.delete(entry.clientId);
    entry.resolve(ack);
    if (this.pacing === entry) this.paceNext(true);
  }

  private onError(frame: Extract<ServerFrame, { type: "error" }>): void {
    const entry = frame.clientId === undefined ? undefined : this.pending.get(frame.clientId);
    if (!entry) {
      this.emit("error", new SwitchboardError(frame.code, frame.message, { clientId: frame.clientId }));
      return;
    }
    if (frame.code === "rate_limited") {
      entry.held = true;
      this.throttled = true;
      if (this.pacing === entry) this.pacing = undefined;
      if (this.pacing === undefined && this.paceTimer === undefined) {
        const hinted = (frame as { retryAfterMs?: unknown }).retryAfterMs;
        const wait = Math.max(typeof hinted === "number" && hinted > 0 ? hinted : 0, this.delay(this.rateLimitStreak++));
        this.paceTimer = this.clock.setTimeout(() => {
          this.paceTimer = undefined;
          this.paceNext(false);
        }, wait);
      }
      return;
    }
    this.pending.delete(entry.clientId);
    entry.reject(new SwitchboardError(frame.code, frame.message, { clientId: entry.clientId }));
    if (this.pacing === entry) this.paceNext(true);
  }

  /** Send the first held frame; when none is left, pipelining resumes. */
  private paceNext(answered: boolean): void {
    this.pacing = undefined;
    if (answered) this.rateLimitStreak = 0;
    if (!this.conn?.ready || this.paceTimer !== undefined) return; // the next ready re-sends everything
    let next: Pending | undefined;
    for (const p of this.pending.values()) {
      if (p.held) {
        next = p;
        break;
      }
    }
    if (!next) {
      this.throttled = false;
      return;
    }
    next.held = false;
    this.pacing = next;
    this.transmit(next);
  }

  private stopPacing(): void {
    if (this.paceTimer !== undefined) this.clock.clearTimeout(this.paceTimer);
    this.paceTimer = undefined;
    this.pacing = undefined;
    this.throttled = false;
  }

  // ---- writing ----

  private transmit(entry: Pending): void {
    if (this.write(entry.frame)) entry.sentOn = this.conn;
  }

  private flushRead(): void {
    if (!this.conn?.ready || this.readWanted <= this.readSent) return;
    if (this.write(JSON.stringify({ type: "read", seq: this.readWanted }))) this.readSent = this.readWanted;
  }

  /** Write to the open socket. A failure means it is closing; its close event triggers the reconnect. */
  private write(data: string): boolean {
    const socket = this.conn?.ready ? this.conn.socket : undefined;
    if (!socket) return false;
    try {
      socket.send(data);
      return true;
    } catch {
      return false;
    }
  }

  private startPing(conn: Connection): void {
    this.stopPing();
    if (this.pingIntervalMs <= 0) return;
    const tick = () => {
      this.pingTimer = undefined;
      if (this.conn !== conn) return;
      if (!conn.heard) {
        // Nothing, not even a pong, for a whole interval: the link is dead without having said so.
        this.lost(conn);
        return;
      }
      conn.heard = false;
      this.write(PING_TEXT);
      this.pingTimer = this.clock.setTimeout(tick, this.pingIntervalMs);
    };
    this.pingTimer = this.clock.setTimeout(tick, this.pingIntervalMs);
  }

  private stopPing(): void {
    if (this.pingTimer !== undefined) this.clock.clearTimeout(this.pingTimer);
    this.pingTimer = undefined;
  }

  // ---- helpers ----

  private async socketUrl(): Promise<string> {
    const params = new URLSearchParams({ token: await this.tokenNow(), after: String(this.seq) });
    if (this.options.deviceId !== undefined) params.set("device", this.options.deviceId);
    const base = httpBase(this.options.baseUrl).replace(/^http/i, "ws");
    return `${base}/v1/conversations/${encodeURIComponent(this.options.conversationId)}/ws?${params}`;
  }

  private async tokenNow(): Promise<string> {
    const token = this.options.token;
    return typeof token === "function" ? await token() : token;
  }

  /** Exponential backoff with jitter: between half and all of min(max, initial * 2^attempt). */
  private delay(attempt: number): number {
    const { initialMs, maxMs } = this.backoff;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  private setState(state: ConnectionState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emit("state", state);
  }

  private emit<E extends keyof ClientEvents>(event: E, payload: ClientEvents[E]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<E>)(payload);
      } catch (err) {
        console.error(`ConversationClient: a "${event}" listener threw`, err);
      }
    }
  }
}

function defaultConnect(url: string): WebSocketLike {
  const WebSocketImpl = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  if (!WebSocketImpl) throw new Error("no global WebSocket: pass a `connect` option");
  return new WebSocketImpl(url);
}

function httpBase(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "").replace(/^ws/i, "http");
}

function statusOf(err: unknown): number | undefined {
  const status = typeof err === "object" && err !== null ? (err as { status?: unknown }).status : undefined;
  return typeof status === "number" ? status : undefined;
}

function safeClose(socket: WebSocketLike, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // already closed or closing
  }
}

// HTTP API and device channel (separate files, so this one stays about the conversation socket).
export * from "./api.ts";
export * from "./device-channel.ts";
