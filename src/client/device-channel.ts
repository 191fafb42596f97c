/**
 * The device channel (`/v1/ws`): one socket per device that keeps the user online and tells them of
 * new messages in any of their conversations and of the presence of people they share one with.
 * Reconnects by itself with backoff; stops for good on a refused token (401), a deleted device (4410)
 * or {@link DeviceChannel.close}.
 *
 * Loadable by Node's type stripping, like index.ts.
 */
import type { ChannelFrame } from "../protocol/frames";
import type { ConnectionState, WebSocketLike } from "./index.ts";
import { SwitchboardError } from "./index.ts";
import { CLOSE_CODES } from "../protocol/close-codes.ts";

export type { ChannelFrame } from "../protocol/frames";

export interface DeviceChannelOptions {
  baseUrl: string;
  token: string | (() => string | Promise<string>);
  /** This device's id (`[A-Za-z0-9_.-]{1,64}`). */
  deviceId: string;
  connect?: (url: string) => Promise<WebSocketLike> | WebSocketLike;
  /** Used to tell a refused upgrade (401) from a network failure, as browsers hide the status. Default: global fetch. */
  fetch?: (url: string, init: { headers: Record<string, string> }) => Promise<{ status: number }>;
  backoff?: { initialMs: number; maxMs: number };
  /** Default 25 s; a socket silent for a whole interval is replaced. */
  pingIntervalMs?: number;
}

export interface DeviceChannelEvents {
  ready: { userId: string; deviceId: string };
  notify: Extract<ChannelFrame, { type: "notify" }>;
  presence: { userId: string; status: "online" | "offline" };
  state: ConnectionState;
  error: SwitchboardError;
}

type Listener<E extends keyof DeviceChannelEvents> = (payload: DeviceChannelEvents[E]) => void;
type AnyListener = (payload: never) => void;

const PING_TEXT = '{"type":"ping"}';
/** Refused upgrades after which redialing cannot help. */
const FATAL_STATUS: Record<number, "invalid_request" | "unauthorized" | "forbidden" | "not_found"> = { 400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found" };

/** A self-healing device channel. */
export class DeviceChannel {
  private readonly options: DeviceChannelOptions;
  private readonly listeners = new Map<keyof DeviceChannelEvents, Set<AnyListener>>();
  private socket: WebSocketLike | undefined;
  private attempt = 0;
  private stopped = false;
  private currentState: ConnectionState = "closed";
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private heard = true;
  private generation = 0;

  constructor(options: DeviceChannelOptions) {
    this.options = options;
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  on<E extends keyof DeviceChannelEvents>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as AnyListener);
    return () => set.delete(listener as AnyListener);
  }

  /** Start (or, after a network change, redial at once). */
  connect(): void {
    if (this.stopped) return;
    if (this.currentState === "open") return;
    clearTimeout(this.timer);
    void this.dial();
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopPing();
    this.generation++;
    try {
      this.socket?.close(1000, "closed");
    } catch {
      // already closing
    }
    this.socket = undefined;
    this.setState("closed");
  }

  private async dial(): Promise<void> {
    const generation = ++this.generation;
    this.setState("connecting");
    let socket: WebSocketLike;
    try {
      const token = await this.tokenNow();
      const params = new URLSearchParams({ token, device: this.options.deviceId });
      const base = this.options.baseUrl.replace(/\/+$/, "").replace(/^http/i, "ws");
      const url = `${base}/v1/ws?${params}`;
      socket = await (this.options.connect ?? defaultConnect)(url);
    } catch (err) {
      if (generation !== this.generation) return;
      const status = typeof err === "object" && err !== null ? (err as { status?: unknown }).status : undefined;
      const fatal = typeof status === "number" ? FATAL_STATUS[status] : undefined;
      if (fatal) this.fail(new SwitchboardError(fatal, `connection refused: HTTP ${String(status)}`, { status: status as number, fatal: true }));
      else this.retry(generation);
      return;
    }
    if (generation !== this.generation) {
      socket.close(1000, "superseded");
      return;
    }
    this.socket = socket;
    let ready = false;
    socket.addEventListener("message", (event) => {
      if (generation !== this.generation) return;
      this.heard = true;
      let frame: ChannelFrame;
      try {
        frame = JSON.parse(String(event.data)) as ChannelFrame;
      } catch {
        return;
      }
      if (frame.type === "ready") {
        ready = true;
        this.attempt = 0;
        this.setState("open");
        this.startPing(socket, generation);
        this.emit("ready", { userId: frame.userId, deviceId: frame.deviceId });
      } else if (frame.type === "notify") this.emit("notify", frame);
      else if (frame.type === "presence") this.emit("presence", { userId: frame.userId, status: frame.status });
      else if (frame.type === "error") this.emit("error", new SwitchboardError(frame.code, frame.message));
    });
    socket.addEventListener("close", (event) => {
      if (generation !== this.generation) return;
      this.socket = undefined;
      this.stopPing();
      if (event.code === CLOSE_CODES.deviceDeleted) return this.fail(new SwitchboardError("not_found", "this device was deleted", { closeCode: event.code, fatal: true }));
      if (!ready) void this.checkRefused(generation);
      else this.retry(generation);
    });
    socket.addEventListener("error", () => undefined);
  }

  /** A socket that closed before `ready`: an expired token ends the channel, anything else is retried. */
  private async checkRefused(generation: number): Promise<void> {
    const fetcher = this.options.fetch ?? (globalThis as { fetch?: DeviceChannelOptions["fetch"] }).fetch;
    if (fetcher) {
      try {
        const base = this.options.baseUrl.replace(/\/+$/, "").replace(/^ws/i, "http");
        const res = await fetcher(`${base}/v1/devices`, { headers: { authorization: `Bearer ${await this.tokenNow()}` } });
        if (generation !== this.generation) return;
        if (res.status === 401) return this.fail(new SwitchboardError("unauthorized", "the token was refused", { status: 401, fatal: true }));
      } catch {
        // offline: retry below
      }
    }
    if (generation === this.generation) this.retry(generation);
  }

  private retry(generation: number): void {
    if (this.stopped || generation !== this.generation) return;
    this.setState("connecting");
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 250, maxMs: 10_000 };
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(this.attempt++, 30));
    this.timer = setTimeout(() => void this.dial(), Math.round(ceiling / 2 + (Math.random() * ceiling) / 2));
  }

  private fail(error: SwitchboardError): void {
    this.stopped = true;
    this.setState("closed");
    this.emit("error", error);
  }

  private startPing(socket: WebSocketLike, generation: number): void {
    this.stopPing();
    const interval = this.options.pingIntervalMs ?? 25_000;
    if (interval <= 0) return;
    this.heard = true;
    this.pingTimer = setInterval(() => {
      if (generation !== this.generation) return this.stopPing();
      if (!this.heard) {
        // Silent for a whole interval: the link is dead without having said so.
        this.generation++;
        this.stopPing();
        try {
          socket.close(4000, "silent");
        } catch {
          // already closed
        }
        this.retry(this.generation);
        return;
      }
      this.heard = false;
      try {
        socket.send(PING_TEXT);
      } catch {
        // closing; its close event retries
      }
    }, interval);
  }

  private stopPing(): void {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  private async tokenNow(): Promise<string> {
    const token = this.options.token;
    return typeof token === "function" ? await token() : token;
  }

  private setState(state: ConnectionState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emit("state", state);
  }

  private emit<E extends keyof DeviceChannelEvents>(event: E, payload: DeviceChannelEvents[E]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as Listener<E>)(payload);
      } catch (err) {
        console.error(`DeviceChannel: a "${event}" listener threw`, err);
      }
    }
  }
}

function defaultConnect(url: string): WebSocketLike {
  const WebSocketImpl = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  if (!WebSocketImpl) throw new Error("no global WebSocket: pass a `connect` option");
  return new WebSocketImpl(url);
}
