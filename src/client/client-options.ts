/** What a conversation client (conversation-client.ts) is given, and what it tells its listeners. */
import type { Message } from "../protocol/frames";
import type { Ack, ConnectionState, TokenSource, WebSocketLike } from "./types.ts";
import type { Clock } from "./clock.ts";
import type { SwitchboardError } from "./errors.ts";

export interface ClientOptions {
  /** The service, e.g. `https://switchboard.example.com` (a `ws(s)://` base works too). */
  baseUrl: string;
  /** A user token, or a function returning a fresh one (called before every connection attempt). */
  token: TokenSource;
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
