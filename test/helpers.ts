import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import type { ConversationRoom } from "../workers/conversation-room";
import { expect } from "vitest";
import { roomName } from "../src/protocol/ids";
import { presenceName, shardCount } from "../src/domain/notify";
import type { ChannelFrame, ServerFrame } from "../src/protocol/frames";
import type { ConversationCreated, ErrorBody, IssuedToken, Message, TenantCreated } from "./responses";

export const BASE = "https://switchboard.test";
export const ADMIN = env.ADMIN_TOKEN;

/** A response as a test reads it: the body parsed as JSON when it is JSON (else its text, or null when empty). */
export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * Call the Worker exactly as a client would, through its fetch handler. `T` is the body the test expects
 * of a success, a type of ./responses (the route's own); an error answer is checked with `expectError`.
 */
export async function api<T = unknown>(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] = "application/json";
  }
  const res = await exports.default.fetch(`${BASE}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** Assert the error envelope of API.md; the response reads as one afterwards. */
export function expectError(res: ApiResponse, status: number, code: string): asserts res is ApiResponse<ErrorBody> {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  const body = res.body as Partial<ErrorBody> | null;
  expect(body?.error?.code).toBe(code);
  expect(typeof body?.error?.message).toBe("string");
}

/** The error of an error envelope, or undefined when the body is not one. */
export function errorOf(res: ApiResponse): ErrorBody["error"] | undefined {
  const body = res.body as Partial<ErrorBody> | null;
  return typeof body === "object" && body !== null ? body.error : undefined;
}

let counter = 0;
/** A fresh id so that tests in one file never share a tenant. */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface TestTenant {
  tenantId: string;
  apiKey: string;
  tokens: Record<string, string>;
}

/** A tenant with the given users, each with a user token. */
export async function setupTenant(users: string[] = ["alice", "bob", "carol"], tenantId = uniqueId("t")): Promise<TestTenant> {
  const created = await api<TenantCreated>("POST", "/v1/tenants", { token: ADMIN, body: { id: tenantId, name: `Tenant ${tenantId}` } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const apiKey = created.body.apiKey;
  const tokens: Record<string, string> = {};
  for (const user of users) {
    const put = await api("PUT", `/v1/users/${user}`, { token: apiKey, body: { name: user.toUpperCase() } });
    expect(put.status).toBe(200);
    const token = await api<IssuedToken>("POST", `/v1/users/${user}/tokens`, { token: apiKey, body: {} });
    expect(token.status).toBe(201);
    tokens[user] = token.body.token;
  }
  return { tenantId, apiKey, tokens };
}

export async function createGroup(token: string, members: string[], name = "Team"): Promise<string> {
  const res = await api<ConversationCreated>("POST", "/v1/conversations", { token, body: { type: "group", name, members } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

export async function sendHttp(token: string, conversationId: string, clientId: string, text: string) {
  return api<Message>("POST", `/v1/conversations/${conversationId}/messages`, { token, body: { clientId, kind: "text", body: { text } } });
}

/** A client WebSocket with a frame queue and timeouts, so a missing frame fails the test instead of hanging it. */
export class TestSocket<F extends { type: string } = ServerFrame> {
  readonly frames: F[] = [];
  private waiters: { match: (f: F) => boolean; resolve: (f: F) => void }[] = [];
  closed: { code: number; reason: string } | undefined;
  private closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];
  private barriers = 0;

  constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      const frame = JSON.parse(String(event.data)) as F;
      const waiter = this.waiters.find((w) => w.match(frame));
      if (waiter) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(frame);
      } else {
        this.frames.push(frame);
      }
    });
    ws.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      for (const w of this.closeWaiters.splice(0)) w(this.closed);
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** The next frame (of a type, or matching a predicate), waiting up to `timeoutMs`. */
  next<T extends F["type"]>(type?: T | ((f: F) => boolean), timeoutMs = 15_000): Promise<Extract<F, { type: T }>> {
    const match = typeof type === "function" ? type : (f: F) => type === undefined || f.type === type;
    const index = this.frames.findIndex(match);
    if (index >= 0) return Promise.resolve(this.frames.splice(index, 1)[0] as Extract<F, { type: T }>);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: resolve as (f: F) => void };
      this.waiters.push(waiter);
      setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          reject(new Error(`no ${String(typeof type === "function" ? "matching" : type ?? "")} frame within ${timeoutMs} ms`));
        }
      }, timeoutMs);
    });
  }

  /** Collect `n` message frames in arrival order. */
  async messages(n: number, timeoutMs = 15_000) {
    const out = [];
    for (let i = 0; i < n; i++) {
      const frame = (await this.next((f) => f.type === "message", timeoutMs)) as unknown as Extract<ServerFrame, { type: "message" }>;
      out.push(frame.message);
    }
    return out;
  }

  /**
   * A barrier: round-trip a ping that the server-side object answers itself, then return (and clear) every
   * frame that arrived before its pong. The object handles one socket's frames in order, so whatever it
   * sent this socket before reading the ping is here; nothing is proved by waiting. The exact text of
   * PING_TEXT is not used: the runtime answers that one without the object, out of order.
   */
  async drain(timeoutMs = 15_000): Promise<F[]> {
    for (let i = this.frames.length - 1; i >= 0; i--) if (this.frames[i]!.type === "pong") this.frames.splice(i, 1);
    this.barriers += 1;
    this.send({ type: "ping", barrier: this.barriers });
    await this.next((f) => f.type === "pong", timeoutMs);
    return this.frames.splice(0);
  }

  waitClosed(timeoutMs = 15_000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      this.closeWaiters.push(resolve);
      setTimeout(() => reject(new Error(`socket not closed within ${timeoutMs} ms`)), timeoutMs);
    });
  }

  close(): void {
    try {
      this.ws.close(1000, "test done");
    } catch {
      // already closed
    }
  }
}

/** Open a conversation socket through the Worker. Resolves to the response when the upgrade is refused. */
export async function connect(
  conversationId: string,
  token: string,
  query: Record<string, string | number> = {},
): Promise<{ socket?: TestSocket; response: Response }> {
  const params = new URLSearchParams({ token, ...Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) });
  const response = await exports.default.fetch(`${BASE}/v1/conversations/${conversationId}/ws?${params}`, {
    headers: { Upgrade: "websocket" },
  });
  if (response.status !== 101 || !response.webSocket) return { response };
  response.webSocket.accept();
  return { socket: new TestSocket(response.webSocket), response };
}

/** Open a socket that must be accepted, and read its `ready` frame. */
export async function join(conversationId: string, token: string, query: Record<string, string | number> = {}) {
  const { socket, response } = await connect(conversationId, token, query);
  if (!socket) throw new Error(`upgrade refused: ${response.status} ${await response.text()}`);
  const ready = await socket.next("ready");
  return { socket, ready };
}

/** Open a user's device channel (`/v1/ws`); resolves after its `ready` frame. */
export async function openChannel(token: string, device: string): Promise<TestSocket<ChannelFrame>> {
  const res = await exports.default.fetch(`${BASE}/v1/ws?token=${encodeURIComponent(token)}&device=${encodeURIComponent(device)}`, {
    headers: { Upgrade: "websocket" },
  });
  if (res.status !== 101 || !res.webSocket) throw new Error(`channel refused: ${res.status} ${await res.text()}`);
  res.webSocket.accept();
  const socket = new TestSocket<ChannelFrame>(res.webSocket);
  await socket.next("ready");
  return socket;
}

/**
 * Close device channels and let presence settle before the test ends: wait until presence has recorded
 * each of `users` going offline (lastSeen at or after the closing), then run the tenant's presence
 * alarms (the announcements those closings armed) until none is left. Otherwise that work runs after
 * the test file has been torn down.
 */
export async function closeChannels(tenantId: string, token: string, users: string[], sockets: TestSocket<ChannelFrame>[]): Promise<void> {
  const closing = Date.now();
  for (const s of sockets) s.close();
  await Promise.all(sockets.map((s) => s.waitClosed()));
  for (let i = 0; i < users.length; i += 200) {
    const chunk = users.slice(i, i + 200);
    await eventually(async () => {
      const res = await api<{ presence: Record<string, { status: string; lastSeen: number | null }> }>("GET", `/v1/presence?users=${chunk.join(",")}`, { token });
      for (const u of chunk) expect(res.body.presence[u], u).toMatchObject({ status: "offline", lastSeen: expect.any(Number) });
      for (const u of chunk) expect(res.body.presence[u]!.lastSeen!, u).toBeGreaterThanOrEqual(closing);
    });
  }
  const shards = Array.from({ length: shardCount(env.PRESENCE_SHARDS) }, (_, i) => env.PRESENCE.getByName(presenceName(tenantId, i)));
  for (let round = 0; round < 10; round++) {
    const ran = await Promise.all(shards.map((stub) => runDurableObjectAlarm(stub)));
    if (!ran.includes(true)) return;
  }
  throw new Error("presence alarms kept rescheduling");
}

/** Wait until `check` passes or the time is up (for effects that travel through alarms and queues). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 15_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, stepMs));
    }
  }
}

/**
 * Wait until the conversation has handed every message up to `seq` to presence (its notify watermark,
 * as the object holds it): from then on every notify and push decision about them has been made, so
 * their absence can be asserted.
 */
export async function notifiedThrough(tenantId: string, conversationId: string, seq: number): Promise<void> {
  const stub = env.ROOMS.getByName(roomName(tenantId, conversationId));
  await eventually(async () => {
    const notified = await runInDurableObject(stub, (room: ConversationRoom) => room.store.header.get()?.notifiedSeq ?? 0);
    expect(notified).toBeGreaterThanOrEqual(seq);
  });
}

/** A clock a test moves by hand, so rate limits do not depend on how busy the machine is. */
export class ManualClock {
  constructor(private t = Date.now()) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Give a conversation's object a clock that only the test moves. */
export async function manualRoomClock(tenantId: string, conversationId: string): Promise<ManualClock> {
  const clock = new ManualClock();
  const stub = env.ROOMS.get(env.ROOMS.idFromName(roomName(tenantId, conversationId)));
  await runInDurableObject(stub, (room: ConversationRoom) => {
    room.clock = clock;
  });
  return clock;
}
