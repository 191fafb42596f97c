import { exports } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConversationClient,
  SwitchboardError,
  UpgradeRefusedError,
  type Ack,
  type ClientOptions,
  type ConnectionState,
  type Message,
  type WebSocketLike,
} from "../src/client/index";
import { ManualClock } from "../src/client/clock";
import { LIMITS } from "../src/protocol/limits";
import { api, BASE, createGroup, manualRoomClock, sendHttp, setupTenant, type TestTenant } from "./helpers";
import type { Conversation, MessagesPage } from "./responses";

/**
 * The SDK against the real Worker and Durable Object. In workerd a socket cannot be dialed by URL,
 * so the injected `connect` upgrades through the Worker's fetch handler (as test/helpers.ts does) and
 * wraps the real socket in a {@link Wire}: it records what the client writes, and lets a test cut the
 * link or make it silently drop what the server sends (a dead network), which is all the fault injection here.
 */
class Wire implements WebSocketLike {
  /** Frames the client wrote, parsed. */
  readonly written: { type: string; clientId?: string; [key: string]: unknown }[] = [];
  /** Frames the server sent, parsed (including those the blackhole then lost). */
  readonly received: { type: string; code?: string; [key: string]: unknown }[] = [];
  /** While true, frames from the server are lost on the way. */
  blackhole = false;

  constructor(
    readonly ws: WebSocket,
    readonly url: URL,
  ) {}

  send(data: string): void {
    this.written.push(JSON.parse(data));
    this.ws.send(data);
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }

  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", listener: (event: unknown) => void): void;
  addEventListener(type: "message" | "close" | "error", listener: (event: any) => void): void {
    if (type === "message") {
      this.ws.addEventListener("message", (event) => {
        this.received.push(JSON.parse(String(event.data)));
        if (!this.blackhole) listener({ data: event.data });
      });
    } else {
      this.ws.addEventListener(type, listener);
    }
  }

  /**
   * A barrier on this link: a ping the conversation object answers itself (not the runtime's exact-text
   * auto-reply), so once its pong is here, every frame the object sent before it has arrived too.
   */
  async barrier(): Promise<void> {
    const pongs = () => this.received.filter((f) => f.type === "pong").length;
    const before = pongs();
    this.ws.send(JSON.stringify({ type: "ping", barrier: true }));
    await until(() => pongs() > before, "the barrier's pong");
  }

  /** Cut the link from the client's side, as a network failure would (the SDK did not ask for it). */
  drop(): void {
    try {
      this.ws.close(4000, "link dropped by the test");
    } catch {
      // already closed
    }
  }
}

/** The injected `connect`: every attempt is recorded; `hold()` makes attempts wait until `release()`. */
function dialer() {
  const urls: URL[] = [];
  const wires: Wire[] = [];
  let gate: { promise: Promise<void>; open: () => void } | undefined;
  const connect = async (url: string): Promise<WebSocketLike> => {
    const httpUrl = new URL(url.replace(/^ws/, "http"));
    urls.push(httpUrl);
    if (gate) await gate.promise;
    const res = await exports.default.fetch(httpUrl.toString(), { headers: { Upgrade: "websocket" } });
    if (res.status !== 101 || !res.webSocket) {
      const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
      throw new UpgradeRefusedError(res.status, body?.error?.code, body?.error?.message);
    }
    res.webSocket.accept();
    const wire = new Wire(res.webSocket, httpUrl);
    wires.push(wire);
    return wire;
  };
  return {
    urls,
    wires,
    connect,
    fetch: (url: string, init: { headers: Record<string, string> }) => exports.default.fetch(url, init),
    hold() {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => (open = resolve));
      gate = { promise, open };
    },
    release() {
      gate?.open();
      gate = undefined;
    },
    /** The wire of the latest connection. */
    get wire(): Wire {
      const wire = wires.at(-1);
      if (!wire) throw new Error("no connection yet");
      return wire;
    },
  };
}

/** Everything a client emitted, in order. */
function record(client: ConversationClient) {
  const log = {
    messages: [] as Message[],
    acks: [] as Ack[],
    reads: [] as { userId: string; seq: number }[],
    typing: [] as { userId: string }[],
    errors: [] as SwitchboardError[],
    states: [] as ConnectionState[],
    readies: [] as { conversationId: string; lastSeq: number }[],
  };
  client.on("message", (m) => log.messages.push(m));
  client.on("ack", (a) => log.acks.push(a));
  client.on("read", (r) => log.reads.push(r));
  client.on("typing", (t) => log.typing.push(t));
  client.on("error", (e) => log.errors.push(e));
  client.on("state", (s) => log.states.push(s));
  client.on("ready", (r) => log.readies.push(r));
  return log;
}

const clients: ConversationClient[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

function open(t: TestTenant, user: string, conversationId: string, options: Partial<ClientOptions> = {}) {
  const dial = dialer();
  let n = 0;
  const client = new ConversationClient({
    baseUrl: BASE,
    token: t.tokens[user]!,
    conversationId,
    deviceId: `${user}-sdk`,
    connect: dial.connect,
    fetch: dial.fetch,
    backoff: { initialMs: 20, maxMs: 200 },
    pingIntervalMs: 0,
    clientId: () => `${user}-${++n}`,
    ...options,
  });
  clients.push(client);
  return { client, dial, log: record(client) };
}

/** Wait until `check` holds, polling; fail with `what` after `timeoutMs` (a bound against hanging, not a timing assumption). */
async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function stored(t: TestTenant, conversationId: string): Promise<MessagesPage["messages"]> {
  const res = await api<MessagesPage>("GET", `/v1/conversations/${conversationId}/messages?after=0&limit=200`, { token: t.tokens.alice! });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.messages;
}

const seqs = (messages: readonly { seq: number }[]) => messages.map((m) => m.seq);
const texts = (messages: readonly { body: unknown }[]) => messages.map((m) => (m.body as { text?: string }).text);

describe("ConversationClient", () => {
  it("lets two clients talk: send() resolves with the server's seq, both see every message once in order", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = open(t, "alice", id);
    const bob = open(t, "bob", id);
    await Promise.all([alice.client.connect(), bob.client.connect()]);
    expect(alice.client.state).toBe("open");
    expect(alice.log.readies).toEqual([{ conversationId: id, lastSeq: 0 }]);
    expect(alice.dial.urls[0]!.searchParams.get("after")).toBe("0");
    expect(alice.dial.urls[0]!.searchParams.get("device")).toBe("alice-sdk");

    const first = await alice.client.send("text", { text: "hi bob" });
    expect(first).toMatchObject({ clientId: "alice-1", seq: 1 });
    expect(typeof first.ts).toBe("number");
    const second = await bob.client.send("text", { text: "hi alice" });
    expect(second).toMatchObject({ clientId: "bob-1", seq: 2 });
    const [third, fourth] = await Promise.all([
      alice.client.send("text", { text: "one" }),
      alice.client.send("text", { text: "two" }),
    ]);
    expect([third.seq, fourth.seq]).toEqual([3, 4]);

    for (const side of [alice, bob]) {
      await until(() => side.log.messages.length >= 4, "four messages");
      expect(seqs(side.log.messages)).toEqual([1, 2, 3, 4]);
      expect(side.log.messages.map((m) => m.sender)).toEqual(["alice", "bob", "alice", "alice"]);
      expect(texts(side.log.messages)).toEqual(["hi bob", "hi alice", "one", "two"]);
      expect(side.client.lastSeq).toBe(4);
    }
    expect(alice.log.acks.map((a) => a.seq)).toEqual([1, 3, 4]);
    expect(alice.client.pendingCount).toBe(0);

    bob.client.markRead(4);
    await until(() => alice.log.reads.length > 0, "bob's read receipt");
    expect(alice.log.reads).toEqual([{ userId: "bob", seq: 4 }]);
    expect(bob.client.typing()).toBe(true);
    expect(bob.client.typing()).toBe(false); // throttled
    await until(() => alice.log.typing.length > 0, "bob typing");
    expect(alice.log.typing).toEqual([{ userId: "bob" }]);

    // A bad body rejects its own send; the connection stays usable.
    const bad = await alice.client.send("text", { text: "" }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(SwitchboardError);
    expect(bad).toMatchObject({ code: "invalid_request", clientId: "alice-4", fatal: false });
    expect((await alice.client.send("text", { text: "still here" })).seq).toBe(5);
    expect(alice.dial.urls).toHaveLength(1);
    expect(alice.log.errors).toEqual([]);
  });

  it("after a dropped link, reconnects with after=lastSeq and receives exactly the missed messages", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = open(t, "alice", id);
    const bob = open(t, "bob", id);
    await Promise.all([alice.client.connect(), bob.client.connect()]);
    await alice.client.send("text", { text: "m1" });
    await alice.client.send("text", { text: "m2" });
    await until(() => bob.log.messages.length === 2, "bob's first two messages");

    // Cut bob's link and keep him offline until the test lets him redial.
    bob.dial.hold();
    bob.dial.wire.drop();
    await until(() => bob.dial.urls.length === 2, "bob's reconnect attempt");
    expect(bob.client.state).toBe("connecting");

    await alice.client.send("text", { text: "m3" });
    await alice.client.send("text", { text: "m4" });
    expect((await sendHttp(t.tokens.alice!, id, "http-5", "m5")).status).toBe(201);
    bob.dial.release();

    await until(() => bob.log.messages.length >= 5, "the missed messages");
    await bob.dial.wire.barrier(); // anything duplicated would have arrived before the barrier's pong
    expect(bob.dial.urls[1]!.searchParams.get("after")).toBe("2");
    expect(seqs(bob.log.messages)).toEqual([1, 2, 3, 4, 5]);
    expect(texts(bob.log.messages)).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    expect(bob.log.states).toEqual(["connecting", "open", "connecting", "open"]);
    expect(bob.log.readies.map((r) => r.lastSeq)).toEqual([0, 5]);
    expect(bob.client.lastSeq).toBe(5);

    // Live traffic keeps flowing on the new connection, still once each.
    await alice.client.send("text", { text: "m6" });
    await until(() => bob.log.messages.length >= 6, "m6");
    expect(seqs(bob.log.messages)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(bob.dial.urls).toHaveLength(2);
  });

  it("re-sends unacknowledged frames with their original clientIds in order after reconnecting; each is stored once", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = open(t, "alice", id);
    await alice.client.connect();
    expect(await alice.client.send("text", { text: "acked" })).toMatchObject({ seq: 1 });
    await until(() => alice.client.lastSeq === 1, "alice's own message");

    // The link dies silently: the server still gets alice's frames and stores them, but its acks are lost.
    alice.dial.wire.blackhole = true;
    const lostAck1 = alice.client.send("text", { text: "lost ack 1" });
    const lostAck2 = alice.client.send("text", { text: "lost ack 2" });
    await until(() => alice.dial.wire.written.length === 3, "the two frames on the wire");
    const firstStored = await stored(t, id);
    expect(seqs(firstStored)).toEqual([1, 2, 3]);
    expect(alice.client.pendingCount).toBe(2);

    // Now it drops, and alice sends once more while offline.
    alice.dial.hold();
    alice.dial.wire.drop();
    await until(() => alice.dial.urls.length === 2, "the reconnect attempt");
    const offline = alice.client.send("text", { text: "sent offline" });
    expect(alice.client.pendingCount).toBe(3);
    alice.dial.release();

    const [a1, a2, a3] = await Promise.all([lostAck1, lostAck2, offline]);
    expect([a1, a2, a3].map((a) => [a.clientId, a.seq])).toEqual([
      ["alice-2", 2],
      ["alice-3", 3],
      ["alice-4", 4],
    ]);
    expect(alice.dial.urls[1]!.searchParams.get("after")).toBe("1");
    // The new connection carried the three unacknowledged frames first, in their original order and ids.
    const resent = alice.dial.wire.written.filter((f) => f.type === "send");
    expect(resent.map((f) => f.clientId)).toEqual(["alice-2", "alice-3", "alice-4"]);
    expect(resent.map((f) => (f.body as { text: string }).text)).toEqual(["lost ack 1", "lost ack 2", "sent offline"]);

    const all = await stored(t, id);
    expect(all.map((m) => [m.seq, m.clientId])).toEqual([
      [1, "alice-1"],
      [2, "alice-2"],
      [3, "alice-3"],
      [4, "alice-4"],
    ]);
    await until(() => alice.client.lastSeq === 4, "alice's own messages");
    expect(seqs(alice.log.messages)).toEqual([1, 2, 3, 4]);
    expect(alice.client.pendingCount).toBe(0);
  });

  it("gets an ack with the original seq for a re-sent frame the server had already stored (API.md: ack to the sender)", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = open(t, "alice", id);
    await alice.client.connect();
    alice.dial.wire.blackhole = true;
    const sent = alice.client.send("text", { text: "stored, ack lost" });
    await until(() => alice.dial.wire.written.length === 1, "the frame on the wire");
    expect(seqs(await stored(t, id))).toEqual([1]);
    alice.dial.wire.drop();
    expect(await sent).toMatchObject({ clientId: "alice-1", seq: 1 });
    // The SDK may settle the send from the replayed message; the server must still answer the retry with an ack.
    await until(() => alice.log.acks.some((a) => a.clientId === "alice-1"), "the server's ack of the re-sent frame");
    expect(alice.log.acks).toEqual([expect.objectContaining({ clientId: "alice-1", seq: 1 })]);
    expect(seqs(await stored(t, id))).toEqual([1]);
  });

  it("retries rate-limited sends until the server takes them, storing each once", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    // Both clocks are the test's: the room's buckets refill, and the client's pacing waits, only when told.
    const roomClock = await manualRoomClock(t.tenantId, id);
    const clock = new ManualClock();
    const alice = open(t, "alice", id, { clock });
    await alice.client.connect();
    const wire = alice.dial.wire;
    const pushedBack = () => wire.received.filter((f) => f.type === "error" && f.code === "rate_limited").length;
    const total = LIMITS.sendBurst + 60;
    const sends = Array.from({ length: total }, (_, i) => alice.client.send("text", { text: `burst ${i}` }));
    // With the room's time standing still, the burst is taken and the next send is pushed back.
    await until(() => pushedBack() > 0 && alice.log.acks.length === LIMITS.sendBurst, "the limiter to push back after the burst");
    expect(alice.client.pendingCount).toBe(total - LIMITS.sendBurst);
    // Time moves a second at a time: the room refills, the client's paced retry fires, and it goes on from there.
    for (let second = 1; alice.client.pendingCount > 0; second++) {
      if (second > 10) throw new Error(`still ${alice.client.pendingCount} pending after 10 s of room time`);
      const before = pushedBack();
      roomClock.advance(1_000);
      await clock.advance(1_000);
      await until(() => alice.client.pendingCount === 0 || pushedBack() > before, "the paced sends to be answered");
    }
    const acks = await Promise.all(sends);
    expect(new Set(acks.map((a) => a.seq)).size).toBe(total);
    expect(Math.max(...acks.map((a) => a.seq))).toBe(total);
    // Exactly one retry per `rate_limited` answer, on the same connection.
    const sendsWritten = wire.written.filter((f) => f.type === "send").length;
    expect(sendsWritten).toBe(total + pushedBack());
    expect(alice.dial.urls).toHaveLength(1);
    const stored = await api<Conversation>("GET", `/v1/conversations/${id}`, { token: t.tokens.alice! });
    expect(stored.body.lastSeq).toBe(total);
    expect(alice.log.errors).toEqual([]);
  });

  it("stops for good when its user is removed from the conversation (close 4403), without reconnecting", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = open(t, "alice", id);
    const clock = new ManualClock();
    const bob = open(t, "bob", id, { clock });
    await Promise.all([alice.client.connect(), bob.client.connect()]);

    const removed = await api("DELETE", `/v1/conversations/${id}/members/bob`, { token: t.tokens.alice! });
    expect(removed.status, JSON.stringify(removed.body)).toBe(204);
    await until(() => bob.client.state === "closed", "bob's client to stop");
    expect(bob.client.error).toMatchObject({ code: "forbidden", closeCode: 4403, fatal: true });
    expect(bob.log.errors.at(-1)).toBe(bob.client.error);
    await expect(bob.client.send("text", { text: "let me in" })).rejects.toMatchObject({ code: "forbidden" });
    // No reconnect is even scheduled, however long one waits.
    expect(clock.pending).toBe(0);
    await clock.advance(60_000);
    expect(bob.dial.urls).toHaveLength(1);
    expect(bob.log.states.at(-1)).toBe("closed");
    expect(alice.client.state).toBe("open");
  });

  it("stops for good when the reconnect is refused with 404 (removed while offline), rejecting pending sends", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const clock = new ManualClock();
    const bob = open(t, "bob", id, { clock });
    await bob.client.connect();
    bob.dial.hold();
    bob.dial.wire.drop();
    await until(() => clock.pending > 0, "the reconnect to be scheduled");
    await clock.advance(200); // the first backoff (20 ms, with jitter)
    await until(() => bob.dial.urls.length === 2, "bob's reconnect attempt");
    const pending = bob.client.send("text", { text: "queued while offline" });
    const connected = bob.client.connect();
    expect((await api("DELETE", `/v1/conversations/${id}/members/bob`, { token: t.tokens.alice! })).status).toBe(204);
    bob.dial.release();

    await expect(pending).rejects.toMatchObject({ code: "not_found", status: 404, fatal: true });
    await until(() => bob.client.state === "closed", "bob's client to stop");
    expect(bob.client.error).toMatchObject({ code: "not_found", status: 404 });
    await expect(connected).resolves.toBeUndefined(); // it had connected before
    expect(clock.pending).toBe(0);
    await clock.advance(60_000);
    expect(bob.dial.urls).toHaveLength(2);
    expect((await stored(t, id)).filter((m) => m.sender === "bob")).toEqual([]);
  });

  it("close() ends the client: pending sends are rejected and nothing reconnects", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const clock = new ManualClock();
    const alice = open(t, "alice", id, { clock });
    await alice.client.connect();
    alice.dial.wire.blackhole = true;
    const pending = alice.client.send("text", { text: "never acked" });
    alice.client.close();
    await expect(pending).rejects.toMatchObject({ code: "closed" });
    await expect(alice.client.send("text", { text: "after close" })).rejects.toMatchObject({ code: "closed" });
    expect(alice.client.state).toBe("closed");
    expect(alice.client.error).toBeUndefined();
    expect(clock.pending).toBe(0);
    await clock.advance(60_000);
    expect(alice.dial.urls).toHaveLength(1);
  });

  it("replaces a link that went silent (no pong for a ping interval) and resumes where it was", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const clock = new ManualClock();
    const alice = open(t, "alice", id, { clock, pingIntervalMs: 1_000 });
    await alice.client.connect();
    await alice.client.send("text", { text: "before" });
    const pongs = () => alice.dial.wire.received.filter((f) => f.type === "pong").length;
    // Pongs keep a healthy link: three intervals, three pings, each answered.
    for (let i = 1; i <= 3; i++) {
      await clock.advance(1_000);
      await until(() => pongs() === i, `pong ${i}`);
    }
    expect(alice.dial.urls).toHaveLength(1);
    expect(alice.dial.wire.written.filter((f) => f.type === "ping")).toHaveLength(3);

    alice.dial.wire.blackhole = true; // open, but nothing comes back
    expect((await sendHttp(t.tokens.alice!, id, "h-2", "while silent")).status).toBe(201);
    // One interval spends what was last heard; the next, silent one replaces the link.
    await clock.advance(1_000);
    expect(alice.dial.urls).toHaveLength(1);
    await clock.advance(1_000);
    expect(alice.client.state).toBe("connecting");
    await clock.advance(1_000); // the reconnect backoff
    await until(() => alice.dial.urls.length === 2 && alice.client.state === "open", "a fresh connection");
    expect(alice.dial.urls[1]!.searchParams.get("after")).toBe("1");
    await until(() => alice.log.messages.length === 2, "the message sent while the link was silent");
    expect(seqs(alice.log.messages)).toEqual([1, 2]);
  });

  it("refuses a too-large frame before sending it", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = open(t, "alice", id);
    await alice.client.connect();
    await expect(alice.client.send("text", { text: "x".repeat(40_000) })).rejects.toMatchObject({ code: "too_large" });
    expect(alice.dial.wire.written).toEqual([]);
  });
});
