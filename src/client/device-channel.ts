/**
 * The device channel (`/v1/ws`): one socket per device that keeps the user online and tells them of
 * new messages in any of their conversations and of the presence of people they share one with.
 * Reconnects by itself with backoff; stops for good on a refused token (401), a deleted device (4410)
 * or {@link DeviceChannel.close}.
 */
import type { ChannelFrame } from "../protocol/frames";
import type { ConnectionState, TokenSource, WebSocketLike } from "./types.ts";
import { SYSTEM_CLOCK } from "./clock.ts";
import { SwitchboardError, refusalError } from "./errors.ts";
import { Heartbeat } from "./heartbeat.ts";
import { Listeners } from "./listeners.ts";
import { readChannelFrame } from "./frames.ts";
import { PING_TEXT, backoffDelay, defaultConnect, httpBase, probeStatus, safeClose, socketBase, statusOf, tokenNow } from "./transport.ts";
import { CLOSE_CODES } from "../protocol/close-codes.ts";

export interface DeviceChannelOptions {
  baseUrl: string;
  token: TokenSource;
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


/** A self-healing device channel. */
export class DeviceChannel {
  private readonly options: DeviceChannelOptions;
  private readonly listeners = new Listeners<DeviceChannelEvents>("DeviceChannel");
  private readonly heartbeat: Heartbeat;
  private socket: WebSocketLike | undefined;
  private attempt = 0;
  private stopped = false;
  private currentState: ConnectionState = "closed";
  private timer: ReturnType<typeof setTimeout> | undefined;
  private generation = 0;

  constructor(options: DeviceChannelOptions) {
    this.options = options;
    this.heartbeat = new Heartbeat(SYSTEM_CLOCK, options.pingIntervalMs ?? 25_000);
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  on<E extends keyof DeviceChannelEvents>(event: E, listener: (payload: DeviceChannelEvents[E]) => void): () => void {
    return this.listeners.add(event, listener);
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
    this.heartbeat.stop();
    this.generation++;
    if (this.socket) safeClose(this.socket, 1000, "closed");
    this.socket = undefined;
    this.setState("closed");
  }

  private async dial(): Promise<void> {
    const generation = ++this.generation;
    this.setState("connecting");
    let socket: WebSocketLike;
    try {
      const params = new URLSearchParams({ token: await tokenNow(this.options.token), device: this.options.deviceId });
      socket = await (this.options.connect ?? defaultConnect)(`${socketBase(this.options.baseUrl)}/v1/ws?${params}`);
    } catch (err) {
      if (generation !== this.generation) return;
      const refusal = refusalError(statusOf(err));
      if (refusal) this.fail(refusal);
      else this.retry(generation);
      return;
    }
    if (generation !== this.generation) {
      safeClose(socket, 1000, "superseded");
      return;
    }
    this.socket = socket;
    let ready = false;
    socket.addEventListener("message", (event) => {
      if (generation !== this.generation) return;
      this.heartbeat.heardFrom();
      let parsed: unknown;
      try {
        parsed = JSON.parse(String(event.data));
      } catch {
        return;
      }
      const frame = readChannelFrame(parsed);
      if (frame === undefined || frame === "newer") return;
      if (frame.type === "ready") {
        ready = true;
        this.attempt = 0;
        this.setState("open");
        this.startPing(socket);
        this.listeners.emit("ready", { userId: frame.userId, deviceId: frame.deviceId });
      } else if (frame.type === "notify") this.listeners.emit("notify", frame);
      else if (frame.type === "presence") this.listeners.emit("presence", { userId: frame.userId, status: frame.status });
      else if (frame.type === "error") this.listeners.emit("error", new SwitchboardError(frame.code, frame.message));
    });
    socket.addEventListener("close", (event) => {
      if (generation !== this.generation) return;
      this.socket = undefined;
      this.heartbeat.stop();
      if (event.code === CLOSE_CODES.deviceDeleted) return this.fail(new SwitchboardError("not_found", "this device was deleted", { closeCode: event.code, fatal: true }));
      if (!ready) void this.checkRefused(generation);
      else this.retry(generation);
    });
    socket.addEventListener("error", () => undefined);
  }

  /** A socket that closed before `ready`: an expired token ends the channel, anything else is retried. */
  private async checkRefused(generation: number): Promise<void> {
    const status = await probeStatus(this.options.fetch, `${httpBase(this.options.baseUrl)}/v1/devices`, this.options.token);
    if (generation !== this.generation) return;
    if (status === 401) return this.fail(new SwitchboardError("unauthorized", "the token was refused", { status: 401, fatal: true }));
    this.retry(generation);
  }

  private retry(generation: number): void {
    if (this.stopped || generation !== this.generation) return;
    this.setState("connecting");
    const delay = backoffDelay(this.options.backoff ?? { initialMs: 250, maxMs: 10_000 }, this.attempt++);
    this.timer = setTimeout(() => void this.dial(), delay);
  }

  private fail(error: SwitchboardError): void {
    this.stopped = true;
    this.setState("closed");
    this.listeners.emit("error", error);
  }

  private startPing(socket: WebSocketLike): void {
    const ping = () => {
      try {
        socket.send(PING_TEXT);
      } catch {
        // closing; its close event retries
      }
    };
    // Silent for a whole interval: the link is dead without having said so.
    this.heartbeat.start(ping, () => {
      this.generation++;
      safeClose(socket, 4000, "silent");
      this.retry(this.generation);
    });
  }

  private setState(state: ConnectionState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.listeners.emit("state", state);
  }
}
