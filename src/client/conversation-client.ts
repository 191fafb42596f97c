/**
 * One conversation over one WebSocket, with resume, idempotent retries and reconnection: the socket's
 * lifecycle and frames. The sends waiting for an answer live in the {@link Outbox}.
 */
import type { ErrorCode, Message, ServerFrame } from "../protocol/frames";
import type { SendableKind } from "../domain/kinds";
import type { Ack, ConnectionState, SendBodies, WebSocketLike } from "./types.ts";
import { SYSTEM_CLOCK, type Clock } from "./clock.ts";
import { SwitchboardError, refusalError } from "./errors.ts";
import { Heartbeat } from "./heartbeat.ts";
import { Listeners } from "./listeners.ts";
import { Outbox } from "./outbox.ts";
import { readServerFrame } from "./frames.ts";
import { PING_TEXT, backoffDelay, defaultConnect, httpBase, probeStatus, safeClose, socketBase, statusOf, tokenNow } from "./transport.ts";
import { CLOSE_CODES } from "../protocol/close-codes.ts";
import type { ClientEvents, ClientOptions } from "./client-options.ts";

export type { ClientEvents, ClientOptions };

interface Connection {
  socket: WebSocketLike | undefined;
  ready: boolean;
}

/** Mirrors LIMITS.frameBytes (src/protocol/limits.ts); the client cannot import it at runtime. */
const FRAME_BYTES = 32 * 1024;
/** Close codes after which reconnecting cannot help (4400 and 4404 by the 4000 + HTTP status rule). */
const FATAL_CLOSE: Record<number, ErrorCode> = {
  4400: "invalid_request",
  [CLOSE_CODES.revoked]: "unauthorized",
  [CLOSE_CODES.notMember]: "forbidden",
  4404: "not_found",
};
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
  private readonly listeners = new Listeners<ClientEvents>("ConversationClient");
  private readonly outbox: Outbox;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly heartbeat: Heartbeat;

  private conn: Connection | undefined;
  private seq: number;
  private currentState: ConnectionState = "closed";
  private started = false;
  private stopped = false;
  private fatalError: SwitchboardError | undefined;
  private attempt = 0;
  private readonly clock: Clock;
  private reconnectTimer: unknown;
  private readWanted = 0;
  private readSent = 0;
  private lastTypingAt = -Infinity;
  private firstReady: { promise: Promise<void>; resolve: () => void; reject: (e: SwitchboardError) => void };

  constructor(options: ClientOptions) {
    new URL(options.baseUrl); // throws a TypeError now rather than failing every connection attempt later
    if (!options.connect && !("WebSocket" in globalThis && globalThis.WebSocket)) {
      throw new TypeError("ConversationClient: this runtime has no global WebSocket; pass a `connect` option");
    }
    this.options = options;
    this.seq = Math.max(0, Math.floor(options.after ?? 0));
    this.backoff = options.backoff ?? { initialMs: 250, maxMs: 10_000 };
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.heartbeat = new Heartbeat(this.clock, options.pingIntervalMs ?? 25_000);
    this.outbox = new Outbox({
      write: (frame) => this.write(frame),
      isOpen: () => this.conn?.ready === true,
      delay: (attempt) => backoffDelay(this.backoff, attempt),
      clock: this.clock,
    });
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
    return this.outbox.size;
  }

  /** The error that ended the client, if one did. */
  get error(): SwitchboardError | undefined {
    return this.fatalError;
  }

  /** Subscribe to an event. Returns a function that unsubscribes. */
  on<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): () => void {
    return this.listeners.add(event, listener);
  }

  /** Unsubscribe a listener added with {@link on}. */
  off<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): void {
    this.listeners.remove(event, listener);
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
    if (this.outbox.has(clientId)) return Promise.reject(new SwitchboardError("conflict", `clientId ${clientId} is already pending`, { clientId }));
    const frame = JSON.stringify({ type: "send", clientId, kind, body, ...(options.replyTo !== undefined ? { replyTo: options.replyTo } : {}) });
    if (new TextEncoder().encode(frame).byteLength > FRAME_BYTES) {
      return Promise.reject(new SwitchboardError("too_large", `frame: must be at most ${FRAME_BYTES} bytes`, { clientId }));
    }
    return this.outbox.add(clientId, frame);
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
    const conn: Connection = { socket: undefined, ready: false };
    this.conn = conn;
    this.setState("connecting");
    let socket: WebSocketLike;
    try {
      const url = await this.socketUrl();
      if (this.conn !== conn) return;
      socket = await (this.options.connect ?? defaultConnect)(url);
    } catch (err) {
      if (this.conn !== conn) return;
      const refusal = refusalError(statusOf(err), typeof err === "object" && err !== null && "code" in err ? err.code : undefined);
      if (refusal) this.end(refusal, true);
      else this.lost(conn);
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
    this.heartbeat.stop();
    this.outbox.stopPacing();
    if (conn.socket) safeClose(conn.socket, 1000, "reconnecting");
    this.setState("connecting");
    const delay = backoffDelay(this.backoff, this.attempt++);
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
    this.heartbeat.stop();
    this.outbox.stopPacing();
    const conn = this.conn;
    this.conn = undefined;
    if (conn?.socket) safeClose(conn.socket, 1000, "client closed");
    this.outbox.rejectAll(error);
    this.firstReady.reject(error);
    if (emit) this.listeners.emit("error", error);
    this.setState("closed");
  }

  private endError(): SwitchboardError {
    return this.fatalError ?? new SwitchboardError("closed", "the client was closed");
  }

  private async probe(): Promise<SwitchboardError | undefined> {
    const url = `${httpBase(this.options.baseUrl)}/v1/conversations/${encodeURIComponent(this.options.conversationId)}`;
    return refusalError(await probeStatus(this.options.fetch, url, this.options.token));
  }

  private async socketUrl(): Promise<string> {
    const params = new URLSearchParams({ token: await tokenNow(this.options.token), after: String(this.seq) });
    if (this.options.deviceId !== undefined) params.set("device", this.options.deviceId);
    return `${socketBase(this.options.baseUrl)}/v1/conversations/${encodeURIComponent(this.options.conversationId)}/ws?${params}`;
  }

  // ---- frames ----

  private onFrame(conn: Connection, data: unknown): void {
    this.heartbeat.heardFrom();
    const text = typeof data === "string" ? data : data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? new TextDecoder().decode(data) : undefined;
    let parsed: unknown;
    try {
      if (text === undefined) throw new TypeError("not text");
      parsed = JSON.parse(text);
    } catch {
      this.listeners.emit("error", new SwitchboardError("protocol_error", "the server sent a frame that is not JSON"));
      return;
    }
    const frame = readServerFrame(parsed);
    if (frame === "newer") return; // a frame type newer than this client
    if (!frame) {
      this.listeners.emit("error", new SwitchboardError("protocol_error", "the server sent a frame of an unexpected shape"));
      return;
    }
    switch (frame.type) {
      case "ready":
        return this.onReady(conn, frame);
      case "message":
        return this.onMessage(frame.message);
      case "ack": {
        const ack: Ack = { clientId: frame.clientId, seq: frame.seq, ts: frame.ts };
        this.outbox.acked(ack);
        return this.listeners.emit("ack", ack);
      }
      case "read":
        return this.listeners.emit("read", { userId: frame.userId, seq: frame.seq });
      case "typing":
        return this.listeners.emit("typing", { userId: frame.userId });
      case "hidden":
        return this.listeners.emit("hidden", { seq: frame.seq });
      case "error":
        if (!this.outbox.refused(frame)) this.listeners.emit("error", new SwitchboardError(frame.code, frame.message, { clientId: frame.clientId }));
        return;
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
    this.listeners.emit("ready", { conversationId: frame.conversationId, lastSeq: frame.lastSeq });
    if (this.conn !== conn) return; // a listener closed the client
    this.firstReady.resolve();
    this.outbox.resend();
    this.readSent = 0;
    this.flushRead();
    // Nothing, not even a pong, for a whole interval: the link is dead without having said so.
    this.heartbeat.start(() => this.write(PING_TEXT), () => this.lost(conn));
  }

  private onMessage(message: Message): void {
    // Seqs may skip (history removed by retention, messages this user deleted for themselves), never go back.
    if (message.seq <= this.seq) return; // already delivered
    this.seq = message.seq;
    this.outbox.delivered(message);
    this.listeners.emit("message", message);
  }

  // ---- writing ----

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

  private setState(state: ConnectionState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.listeners.emit("state", state);
  }
}
