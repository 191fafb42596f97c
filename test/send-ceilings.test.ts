import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ChannelFrame, ServerFrame } from "../src/protocol/frames";
import { LIMITS } from "../src/protocol/limits";
import { BucketMap } from "../src/domain/rate";
import { BASE, connect, createGroup, join, manualRoomClock, openChannel, setupTenant, type TestSocket } from "./helpers";

describe("send ceilings across devices", () => {
  it("one person's devices share one budget in a conversation: new device ids do not buy more sends", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const clock = await manualRoomClock(t.tenantId, id);
    const devices = ["d1", "d2", "d3"];
    const sockets: TestSocket[] = [];
    try {
      for (const device of devices) sockets.push((await join(id, t.tokens.alice!, { device })).socket);
      // 150 per device stays inside each device's own burst; 450 in all is past the person's.
      const perDevice = 150;
      sockets.forEach((socket, d) => {
        for (let i = 0; i < perDevice; i++) socket.send({ type: "send", clientId: `${devices[d]}-${i}`, kind: "text", body: { text: "x" } });
      });
      const answers: ServerFrame[] = [];
      for (const socket of sockets) {
        for (let i = 0; i < perDevice; i++) answers.push(await socket.next((f) => f.type === "ack" || f.type === "error", 10_000));
      }
      const acks = answers.filter((f) => f.type === "ack");
      const errors = answers.filter((f): f is Extract<ServerFrame, { type: "error" }> => f.type === "error");
      expect(acks.length).toBe(LIMITS.sendUserBurst);
      expect(errors.length).toBe(devices.length * perDevice - LIMITS.sendUserBurst);
      for (const e of errors) expect(e.code).toBe("rate_limited");

      // The budget refills with time, for every device of the person.
      clock.advance(1_000);
      sockets[2]!.send({ type: "send", clientId: "after-refill", kind: "text", body: { text: "later" } });
      expect(await sockets[2]!.next("ack")).toMatchObject({ clientId: "after-refill", seq: LIMITS.sendUserBurst + 1 });
    } finally {
      for (const s of sockets) s.close();
    }
  });

  it(`a person holds at most ${LIMITS.socketsPerUser} sockets on a conversation; others still connect`, async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const sockets: TestSocket[] = [];
    try {
      for (let i = 0; i < LIMITS.socketsPerUser; i++) sockets.push((await join(id, t.tokens.alice!, { device: `dev-${i}` })).socket);
      const refused = await connect(id, t.tokens.alice!, { device: "one-too-many" });
      expect(refused.socket).toBeUndefined();
      expect(refused.response.status).toBe(429);
      expect(((await refused.response.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
      const bob = await join(id, t.tokens.bob!);
      sockets.push(bob.socket);
      sockets[0]!.send({ type: "send", clientId: "still", kind: "text", body: { text: "serving" } });
      expect((await bob.socket.messages(1))[0]).toMatchObject({ clientId: "still" });
    } finally {
      for (const s of sockets) s.close();
    }
  });

  it(`a person holds at most ${LIMITS.socketsPerUser} device channels`, async () => {
    const t = await setupTenant(["alice", "bob"]);
    const channels: TestSocket<ChannelFrame>[] = [];
    try {
      for (let i = 0; i < LIMITS.socketsPerUser; i++) channels.push(await openChannel(t.tokens.alice!, `dev-${i}`));
      const res = await exports.default.fetch(`${BASE}/v1/ws?token=${encodeURIComponent(t.tokens.alice!)}&device=extra`, { headers: { Upgrade: "websocket" } });
      expect(res.status).toBe(429);
      expect(res.webSocket).toBeNull();
      channels.push(await openChannel(t.tokens.bob!, "phone"));
    } finally {
      for (const c of channels) c.close();
    }
  });
});

describe("rate buckets keyed by client-chosen values", () => {
  it("stay within their bound, forgetting full buckets before spent ones", () => {
    const buckets = new BucketMap(3, 2, 1);
    const spent = buckets.get("spent", 0);
    spent.take(0);
    spent.take(0);
    for (let i = 0; i < 100; i++) buckets.get(`device-${i}`, 0);
    expect(buckets.size).toBeLessThanOrEqual(3);
    // The spent bucket was kept: a fresh key would have been full again.
    expect(buckets.get("spent", 0).take(0).ok).toBe(false);
  });
});
