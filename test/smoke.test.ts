import { describe, expect, it } from "vitest";
import { api, createGroup, join, sendHttp, setupTenant } from "./helpers";

describe("the service", () => {
  it("answers health checks", async () => {
    const res = await api("GET", "/health");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });

  it("delivers a message sent over a socket to every member's socket, acked first to the sender", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const alice = await join(id, t.tokens.alice!);
    const bob = await join(id, t.tokens.bob!);
    alice.socket.send({ type: "send", clientId: "c1", kind: "text", body: { text: "hi" } });
    const ack = await alice.socket.next("ack");
    expect(ack).toMatchObject({ clientId: "c1", seq: 1 });
    const got = await bob.socket.next("message");
    expect(got.message).toMatchObject({ seq: 1, sender: "alice", kind: "text", body: { text: "hi" } });
    const http = await sendHttp(t.tokens.bob!, id, "b1", "yo");
    expect(http.status).toBe(201);
    expect((await alice.socket.next("message")).message.seq).toBe(1);
    expect((await alice.socket.next("message")).message.seq).toBe(2);
    alice.socket.close();
    bob.socket.close();
  });
});

describe("the Worker's main module", () => {
  it("exports only handlers and Durable Object classes, which is all the runtime accepts from it", async () => {
    const mod = (await import("../workers/index")) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      if (name === "default") expect(typeof (value as { fetch?: unknown }).fetch).toBe("function");
      else expect(typeof value, name).toBe("function");
    }
  });
});
