import { afterEach, describe, expect, it, vi } from "vitest";
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { FLUSH_LINES } from "../src/jobs/room-mirror-flush";
import { roomName } from "../src/protocol/ids";
import { api, createGroup, eventually, join, manualRoomClock, openChannel, sendHttp, setupTenant } from "./helpers";

/** The reporting-log lines written while `run` runs, parsed. */
async function logLinesOf(run: () => Promise<unknown>): Promise<{ lines: Record<string, unknown>[]; raw: string }> {
  const spy = vi.spyOn(console, "log");
  try {
    await run();
    const raw = spy.mock.calls.map((args) => args.map(String).join(" ")).join("\n");
    const lines = spy.mock.calls
      .map((args) => {
        try {
          return JSON.parse(String(args[0])) as Record<string, unknown>;
        } catch {
          return undefined;
        }
      })
      .filter((l): l is Record<string, unknown> => l !== undefined && typeof l.type === "string");
    return { lines, raw };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe("the reporting log", () => {
  it("writes one line per request with tenant, actor, route pattern, status, duration and bytes", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const { lines } = await logLinesOf(() => sendHttp(t.tokens.alice!, id, "c1", "a secret plan"));
    const requests = lines.filter((l) => l.type === "request");
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      method: "POST",
      route: "/v1/conversations/:id/messages",
      status: 201,
      actorKind: "user",
      actorId: "alice",
      tenantId: t.tenantId,
    });
    expect(typeof requests[0]!.requestId).toBe("string");
    expect(requests[0]!.durationMs).toBeGreaterThanOrEqual(0);
    expect(requests[0]!.bytesIn).toBeGreaterThan(0);
  });

  it("logs refusals too, and never a body, token, api key or secret", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const { lines, raw } = await logLinesOf(async () => {
      await sendHttp(t.tokens.alice!, id, "c2", "the launch code is 0000");
      await api("GET", "/v1/conversations", { token: "not-a-token" });
      await api("PUT", "/v1/users/zed", { token: t.apiKey, body: { name: "Zed" } });
    });
    expect(lines.filter((l) => l.type === "request").map((l) => [l.status, l.actorKind])).toEqual([
      [201, "user"],
      [401, "anonymous"],
      [200, "tenant"],
    ]);
    for (const secret of ["launch code", t.tokens.alice!, t.apiKey, "not-a-token", "test-admin-token", "test-signing-key"]) {
      expect(raw).not.toContain(secret);
    }
  });
});

describe("the reporting log of sockets and side effects", () => {
  it("writes one line when a conversation socket or a device channel ends, with who, where and how long", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const { lines, raw } = await logLinesOf(async () => {
      const { socket } = await join(id, t.tokens.bob!, { device: "phone" });
      socket.close();
      await socket.waitClosed();
      const channel = await openChannel(t.tokens.bob!, "laptop");
      channel.close();
      await channel.waitClosed();
    });
    // An accepted upgrade is reported by the line written when its socket ends, not on the way in.
    expect(lines.filter((l) => l.type === "request" && l.upgrade === true)).toEqual([]);
    const ended = lines.filter((l) => l.type === "socket.closed");
    expect(ended.map((l) => [l.route, l.actorId, l.deviceId, l.status])).toEqual([
      ["/v1/conversations/:id/ws", "bob", "phone", 1000],
      ["/v1/ws", "bob", "laptop", 1000],
    ]);
    for (const l of ended) {
      expect(l).toMatchObject({ tenantId: t.tenantId, actorKind: "user" });
      expect(typeof l.requestId).toBe("string");
      expect(l.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(raw).not.toContain(t.tokens.bob!);
  });

  it("writes a line per mirror flush with its rows and lag, never the text", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const { lines, raw } = await logLinesOf(() => sendHttp(t.tokens.alice!, id, "m1", "quarterly numbers attached"));
    expect(lines.filter((l) => l.type === "mirror.flush")).toEqual([
      expect.objectContaining({ tenantId: t.tenantId, conversationId: id, rows: 1 }),
    ]);
    expect(raw).not.toContain("quarterly numbers");
  });

  it("folds the flushes of a busy conversation beyond three lines a minute into the next line", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const clock = await manualRoomClock(t.tenantId, id);
    const { socket: alice } = await join(id, t.tokens.alice!);
    const stub = env.ROOMS.getByName(roomName(t.tenantId, id));
    const text = "跟进客户合同续签".repeat(625); // about 85 KB as a history row: a flush carries at most 900 KB
    const { lines } = await logLinesOf(async () => {
      for (let i = 0; i < 80; i++) alice.send({ type: "send", clientId: `big${i}`, kind: "text", body: { text } });
      for (let i = 0; i < 80; i++) await alice.next("ack");
      await eventually(async () => {
        await runDurableObjectAlarm(stub);
        const row = await env.DB.prepare("SELECT count(*) AS n FROM messages WHERE conversation_id = ?").bind(id).first<{ n: number }>();
        expect(row?.n).toBe(80);
      });
      // A minute later the alarm writes what was folded.
      clock.advance(61_000);
      await runDurableObjectAlarm(stub);
    });
    const flushes = lines.filter((l) => l.type === "mirror.flush" && l.conversationId === id);
    expect(flushes.reduce((sum, l) => sum + Number(l.rows), 0)).toBe(80);
    const counted = flushes.reduce((sum, l) => sum + Number(l.flushes ?? 1), 0);
    expect(counted).toBeGreaterThanOrEqual(8);
    expect(flushes.length).toBeLessThanOrEqual(FLUSH_LINES + 1);
    expect(flushes.at(-1)?.flushes).toBeGreaterThan(1);
    alice.close();
  });

  it("writes a line per notify batch a presence shard handles, with frames and push jobs counted", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const bob = await openChannel(t.tokens.bob!, "phone");
    const { lines, raw } = await logLinesOf(async () => {
      await sendHttp(t.tokens.alice!, id, "m1", "numbers for the board");
      await bob.next("notify");
    });
    expect(lines.filter((l) => l.type === "notify.batch" && l.frames === 1)).toEqual([
      expect.objectContaining({ tenantId: t.tenantId, conversationId: id, messages: 1, pushJobs: 0 }),
    ]);
    expect(raw).not.toContain("numbers for the board");
    bob.close();
  });
});
