import { env } from "cloudflare:workers";
import { listDurableObjectIds, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, closeChannels, createGroup, eventually, expectError, join, notifiedThrough, openChannel, sendHttp, setupTenant } from "./helpers";
import { presenceName, presenceShard, shardCount } from "../src/domain/notify";
import type { Device, DeviceList, PresenceMap } from "./responses";

const presence = (token: string, users: string[]) => api<PresenceMap>("GET", `/v1/presence?users=${users.join(",")}`, { token });

/** Run the presence alarm of the shard that holds `userId` (instead of waiting out the coalescing window). */
async function announce(tenantId: string, userId: string) {
  const shard = presenceShard(userId, shardCount(env.PRESENCE_SHARDS));
  await runDurableObjectAlarm(env.PRESENCE.getByName(presenceName(tenantId, shard)));
}

/** Record what the push queue consumer sends to webhook endpoints. */
function captureWebhooks(status = 200) {
  const calls: { url: string; body: Record<string, unknown> }[] = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.startsWith("http://127.0.0.1:9")) return real(input, init);
    calls.push({ url, body: JSON.parse(String(init?.body)) as Record<string, unknown> });
    return new Response(null, { status });
  });
  return calls;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("presence and device channels", () => {
  it("shows a user online while a device channel is open, and offline with lastSeen after it closes", async () => {
    const t = await setupTenant();
    let res = await presence(t.tokens.alice!, ["bob", "carol"]);
    expect(res.body.presence).toEqual({ bob: { status: "offline", lastSeen: null }, carol: { status: "offline", lastSeen: null } });
    const phone = await openChannel(t.tokens.bob!, "phone");
    const laptop = await openChannel(t.tokens.bob!, "laptop");
    res = await presence(t.tokens.alice!, ["bob"]);
    expect(res.body.presence.bob.status).toBe("online");
    phone.close();
    await phone.waitClosed();
    expect((await presence(t.tokens.alice!, ["bob"])).body.presence.bob.status).toBe("online");
    laptop.close();
    await laptop.waitClosed();
    const after = await eventually(async () => {
      const r = await presence(t.tokens.alice!, ["bob"]);
      expect(r.body.presence.bob.status).toBe("offline");
      return r;
    });
    expect(after.body.presence.bob.lastSeen).toBeGreaterThan(0);
  });

  it("refuses bad presence queries", async () => {
    const t = await setupTenant();
    expectError(await presence(t.tokens.alice!, []), 400, "invalid_request");
    expectError(await presence(t.tokens.alice!, ["a b"]), 400, "invalid_request");
    expectError(await presence(t.tokens.alice!, Array.from({ length: 201 }, (_, i) => `u${i}`)), 400, "invalid_request");
    expectError(await api("GET", "/v1/presence?users=bob", { token: t.apiKey }), 403, "forbidden");
  });

  it("sends presence frames to people who share a conversation, once the state settles", async () => {
    const t = await setupTenant(["alice", "bob", "carol", "dave"]);
    await createGroup(t.tokens.alice!, ["bob", "carol"]);
    const carol = await openChannel(t.tokens.carol!, "c1");
    const dave = await openChannel(t.tokens.dave!, "d1");
    await announce(t.tenantId, "carol");
    await announce(t.tenantId, "dave");
    carol.frames.splice(0);
    const bob = await openChannel(t.tokens.bob!, "b1");
    await announce(t.tenantId, "bob");
    expect(await carol.next("presence")).toEqual({ type: "presence", userId: "bob", status: "online" });
    expect((await dave.drain()).filter((f) => f.type === "presence")).toEqual([]);
    // A flap (offline and back within the coalescing window) announces nothing.
    bob.close();
    await bob.waitClosed();
    const again = await openChannel(t.tokens.bob!, "b1");
    await announce(t.tenantId, "bob");
    expect((await carol.drain()).filter((f) => f.type === "presence")).toEqual([]);
    for (const s of [carol, dave, again]) s.close();
  });
});

describe("presence announcements at scale", () => {
  // 201 device channels: plain volume, so its time bound is generous for a busy machine.
  it("announces more users than one chunk to their contacts", async () => {
    // Enough users that every one of the test deployment's presence shards holds more than one chunk (50).
    const users = Array.from({ length: 200 }, (_, i) => `p${i}`);
    const perShard = new Map<number, number>();
    for (const u of users) perShard.set(presenceShard(u, shardCount(env.PRESENCE_SHARDS)), (perShard.get(presenceShard(u, shardCount(env.PRESENCE_SHARDS))) ?? 0) + 1);
    expect(Math.max(...perShard.values())).toBeGreaterThan(50);
    const t = await setupTenant(["watcher", ...users]);
    await createGroup(t.tokens.watcher!, users);
    const watcher = await openChannel(t.tokens.watcher!, "w");
    const channels = await Promise.all(users.map((u) => openChannel(t.tokens[u]!, "d")));
    for (const u of new Set(users.map((u) => presenceShard(u, shardCount(env.PRESENCE_SHARDS))))) {
      await runDurableObjectAlarm(env.PRESENCE.getByName(presenceName(t.tenantId, u)));
    }
    const online = new Set<string>();
    while (online.size < users.length) {
      const frame = await watcher.next("presence");
      if (frame.status === "online") online.add(frame.userId);
    }
    expect([...online].sort()).toEqual([...users].sort());
    await closeChannels(t.tenantId, t.tokens.watcher!, ["watcher", ...users], [watcher, ...channels]);
  }, 60_000);
});

describe("notify and push", () => {
  it("notifies every open device of each recipient, and nobody else, never the sender", async () => {
    const t = await setupTenant(["alice", "bob", "carol", "dave"]);
    const id = await createGroup(t.tokens.alice!, ["bob", "carol"]);
    const bobPhone = await openChannel(t.tokens.bob!, "phone");
    const bobLaptop = await openChannel(t.tokens.bob!, "laptop");
    const carol = await openChannel(t.tokens.carol!, "c1");
    const dave = await openChannel(t.tokens.dave!, "d1");
    const alice = await openChannel(t.tokens.alice!, "a1");
    const sent = await sendHttp(t.tokens.alice!, id, "n1", "quote for ACME");
    const expected = { type: "notify", conversationId: id, seq: sent.body.seq, sender: "alice", preview: "quote for ACME", kind: "text", muted: false };
    expect(await bobPhone.next("notify")).toEqual(expected);
    expect(await bobLaptop.next("notify")).toEqual(expected);
    expect(await carol.next("notify")).toEqual(expected);
    // Every shard has handled the message once the conversation's notify watermark passes it.
    await notifiedThrough(t.tenantId, id, sent.body.seq);
    expect((await dave.drain()).filter((f) => f.type === "notify")).toEqual([]);
    expect((await alice.drain()).filter((f) => f.type === "notify")).toEqual([]);
    await closeChannels(t.tenantId, t.tokens.alice!, ["bob", "carol", "dave", "alice"], [bobPhone, bobLaptop, carol, dave, alice]);
  });

  it("notifies messages sent over a conversation socket too, in order", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const bob = await openChannel(t.tokens.bob!, "phone");
    const alice = await join(id, t.tokens.alice!);
    for (let i = 1; i <= 5; i++) alice.socket.send({ type: "send", clientId: `s${i}`, kind: "text", body: { text: `s${i}` } });
    const seqs = [];
    for (let i = 1; i <= 5; i++) seqs.push((await bob.next("notify")).seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    alice.socket.close();
    bob.close();
  });

  it("pushes to each push device of a recipient with no open channel, with the badge", async () => {
    const calls = captureWebhooks();
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob", "carol"]);
    const other = await createGroup(t.tokens.carol!, ["bob"]);
    await sendHttp(t.tokens.carol!, other, "x1", "elsewhere");
    for (const device of ["w1", "w2"]) {
      const reg = await api<Device>("POST", "/v1/devices", { token: t.tokens.bob!, body: { id: device, platform: "webhook", endpoint: `http://127.0.0.1:9/push/${device}` } });
      expect(reg.status).toBe(201);
    }
    // carol is online: she gets a frame, not a push.
    await api("POST", "/v1/devices", { token: t.tokens.carol!, body: { id: "cw", platform: "webhook", endpoint: "http://127.0.0.1:9/push/cw" } });
    const carol = await openChannel(t.tokens.carol!, "cw");
    const sent = await sendHttp(t.tokens.alice!, id, "p1", "call me");
    // (The earlier message in the other conversation may push too, depending on timing: look at this one.)
    const forThis = () => calls.filter((c) => c.body.conversationId === id);
    await eventually(() => Promise.resolve(expect(forThis()).toHaveLength(2)));
    expect(forThis().map((c) => c.url).sort()).toEqual(["http://127.0.0.1:9/push/w1", "http://127.0.0.1:9/push/w2"]);
    expect(forThis()[0]!.body).toEqual({
      tenantId: t.tenantId,
      userId: "bob",
      deviceId: forThis()[0]!.url.endsWith("w1") ? "w1" : "w2",
      conversationId: id,
      seq: sent.body.seq,
      sender: "alice",
      preview: "call me",
      badge: 2,
    });
    expect(await carol.next("notify")).toMatchObject({ seq: sent.body.seq });
    carol.close();
  });

  /**
   * A user on the same presence shard as `userId`: the shard decides every push of one hand-over at once
   * and enqueues them in one batch, so a push that reaches this control proves the other one was decided.
   */
  function sameShardAs(userId: string): string {
    const shards = shardCount(env.PRESENCE_SHARDS);
    for (let i = 0; ; i++) if (presenceShard(`ctl${i}`, shards) === presenceShard(userId, shards)) return `ctl${i}`;
  }

  it("does not push for a muted conversation, unless the recipient is mentioned", async () => {
    const calls = captureWebhooks();
    const control = sameShardAs("bob");
    const t = await setupTenant(["alice", "bob", control]);
    const id = await createGroup(t.tokens.alice!, ["bob", control]);
    await api("POST", "/v1/devices", { token: t.tokens.bob!, body: { id: "w", platform: "webhook", endpoint: "http://127.0.0.1:9/push" } });
    await api("POST", "/v1/devices", { token: t.tokens[control]!, body: { id: "w", platform: "webhook", endpoint: "http://127.0.0.1:9/control" } });
    await api("PUT", `/v1/conversations/${id}/settings`, { token: t.tokens.bob!, body: { muted: true } });
    await sendHttp(t.tokens.alice!, id, "m1", "quiet");
    await api("POST", `/v1/conversations/${id}/messages`, { token: t.tokens.alice!, body: { clientId: "m2", kind: "text", body: { text: "everyone", mentions: ["all"] } } });
    // The unmuted control is pushed through the same hand-overs and queue batches: the newest message
    // at least (two messages in one hand-over are one push, whose badge counts both).
    const seqsTo = (path: string) => calls.filter((c) => c.url.endsWith(path)).map((c) => c.body.seq);
    await eventually(() => Promise.resolve(expect(seqsTo("/control")).toContain(2)));
    expect(seqsTo("/control").every((seq) => seq === 1 || seq === 2)).toBe(true);
    expect(seqsTo("/push")).toEqual([]);
    await api("POST", `/v1/conversations/${id}/messages`, { token: t.tokens.alice!, body: { clientId: "m3", kind: "text", body: { text: "@bob please", mentions: ["bob"] } } });
    await eventually(() => Promise.resolve(expect(seqsTo("/push")).toHaveLength(1)));
    expect(calls.find((c) => c.url.endsWith("/push"))!.body).toMatchObject({ seq: 3, preview: "@bob please" });
  });

  it("never notifies or pushes the sender", async () => {
    const calls = captureWebhooks();
    const control = sameShardAs("alice");
    const t = await setupTenant(["alice", "bob", control]);
    const id = await createGroup(t.tokens.alice!, ["bob", control]);
    await api("POST", "/v1/devices", { token: t.tokens.alice!, body: { id: "w", platform: "webhook", endpoint: "http://127.0.0.1:9/alice" } });
    await api("POST", "/v1/devices", { token: t.tokens[control]!, body: { id: "w", platform: "webhook", endpoint: "http://127.0.0.1:9/control" } });
    const bob = await openChannel(t.tokens.bob!, "b");
    await sendHttp(t.tokens.alice!, id, "own", "mine");
    await bob.next("notify");
    // The offline control on alice's shard is pushed the message: the shard has decided alice's share too.
    await eventually(() => Promise.resolve(expect(calls.map((c) => c.url)).toContain("http://127.0.0.1:9/control")));
    expect(calls.filter((c) => c.url.endsWith("/alice"))).toEqual([]);
    bob.close();
  });

  it("keeps presence, notifications and devices apart for the same user id in two tenants", async () => {
    const a = await setupTenant();
    const b = await setupTenant();
    const bobA = await openChannel(a.tokens.bob!, "phone");
    expect((await presence(a.tokens.alice!, ["bob"])).body.presence.bob.status).toBe("online");
    expect((await presence(b.tokens.alice!, ["bob"])).body.presence.bob.status).toBe("offline");
    const idB = await createGroup(b.tokens.alice!, ["bob"]);
    const sentB = await sendHttp(b.tokens.alice!, idB, "x", "tenant b");
    await notifiedThrough(b.tenantId, idB, sentB.body.seq);
    expect((await bobA.drain()).filter((f) => f.type === "notify")).toEqual([]);
    await api("POST", "/v1/devices", { token: a.tokens.bob!, body: { id: "w", platform: "webhook", endpoint: "http://127.0.0.1:9/a" } });
    expect((await api<DeviceList>("GET", "/v1/devices", { token: b.tokens.bob! })).body.devices).toEqual([]);
    expectError(await api("DELETE", "/v1/devices/w", { token: b.tokens.bob! }), 404, "not_found");
    bobA.close();
  });

  it("spreads a tenant's users over several presence shards and still reaches all of them", async () => {
    expect(shardCount(env.PRESENCE_SHARDS)).toBeGreaterThan(1);
    const users = Array.from({ length: 12 }, (_, i) => `user${i}`);
    const t = await setupTenant(["alice", ...users]);
    const shardsUsed = new Set(users.map((u) => presenceShard(u, shardCount(env.PRESENCE_SHARDS))));
    expect(shardsUsed.size).toBeGreaterThan(1);
    const id = await createGroup(t.tokens.alice!, users);
    const channels = await Promise.all(users.map((u) => openChannel(t.tokens[u]!, "d")));
    const before = (await listDurableObjectIds(env.PRESENCE)).length;
    expect(before).toBeGreaterThanOrEqual(shardsUsed.size);
    const sent = await sendHttp(t.tokens.alice!, id, "all", "hello shards");
    for (const c of channels) expect(await c.next("notify")).toMatchObject({ seq: sent.body.seq });
    const res = await presence(t.tokens.alice!, users);
    expect(Object.values(res.body.presence).every((p) => (p as { status: string }).status === "online")).toBe(true);
    await closeChannels(t.tenantId, t.tokens.alice!, users, channels);
  });
});
