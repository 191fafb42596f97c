import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE, createGroup, setupTenant, TestSocket } from "./helpers";
import { ACTOR_HEADER } from "../src/protocol/internal";

describe("identity reaches a conversation only from the Worker", () => {
  it("ignores an identity header sent by a client and acts as the token's user", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const forged = JSON.stringify({ tenantId: t.tenantId, userId: "alice", deviceId: "x" });
    const res = await exports.default.fetch(`${BASE}/v1/conversations/${id}/ws?token=${t.tokens.bob}`, {
      headers: { Upgrade: "websocket", [ACTOR_HEADER]: forged },
    });
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    const socket = new TestSocket(res.webSocket!);
    await socket.next("ready");
    socket.send({ type: "send", clientId: "who", kind: "text", body: { text: "who am I" } });
    expect((await socket.next("message")).message.sender).toBe("bob");
    socket.close();
  });

  it("refuses an upgrade that carries only a forged identity header", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const forged = JSON.stringify({ tenantId: t.tenantId, userId: "alice", deviceId: "x" });
    const res = await exports.default.fetch(`${BASE}/v1/conversations/${id}/ws`, {
      headers: { Upgrade: "websocket", [ACTOR_HEADER]: forged },
    });
    expect(res.status).toBe(401);
    expect(res.webSocket).toBeNull();
  });
});
