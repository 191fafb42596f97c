import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { roomName } from "../src/protocol/ids";
import { api, connect, createGroup, expectError, sendHttp, setupTenant } from "./helpers";
import type { MessagesPage } from "./responses";

function randomConversationId(): string {
  return `g_${crypto.randomUUID().replaceAll("-", "")}`;
}

/**
 * What the conversation's object holds: its tables and its alarm. (Looking instantiates the object,
 * and the local runtime opens an empty database file for any instantiated object; what matters is
 * that nothing is written into it.)
 */
async function storedIn(tenantId: string, conversationId: string): Promise<{ tables: number; alarm: number | null }> {
  const stub = env.ROOMS.get(env.ROOMS.idFromName(roomName(tenantId, conversationId)));
  return runInDurableObject(stub, async (_instance, state) => ({
    tables: state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM sqlite_master`).one().n,
    alarm: await state.storage.getAlarm(),
  }));
}

/** Every conversation route a member can call, for one conversation id. */
function routes(id: string): { method: string; path: string; body?: unknown }[] {
  return [
    { method: "GET", path: `/v1/conversations/${id}` },
    { method: "GET", path: `/v1/conversations/${id}/messages` },
    { method: "POST", path: `/v1/conversations/${id}/messages`, body: { clientId: "c1", kind: "text", body: { text: "hi" } } },
    { method: "PATCH", path: `/v1/conversations/${id}/messages/1`, body: { body: { text: "edited" } } },
    { method: "DELETE", path: `/v1/conversations/${id}/messages/1` },
    { method: "POST", path: `/v1/conversations/${id}/messages/1/recall` },
    { method: "GET", path: `/v1/conversations/${id}/messages/1/edits` },
    { method: "GET", path: `/v1/conversations/${id}/messages/1/receipts` },
    { method: "PUT", path: `/v1/conversations/${id}/messages/1/reactions/%F0%9F%91%8D` },
    { method: "DELETE", path: `/v1/conversations/${id}/messages/1/reactions/%F0%9F%91%8D` },
    { method: "POST", path: `/v1/conversations/${id}/messages/1/decision`, body: { clientId: "d1", decision: "approve" } },
    { method: "POST", path: `/v1/conversations/${id}/messages/1/actions`, body: { action: "claim" } },
    { method: "POST", path: `/v1/conversations/${id}/members`, body: { userIds: ["alice"] } },
    { method: "DELETE", path: `/v1/conversations/${id}/members/bob` },
    { method: "PUT", path: `/v1/conversations/${id}/members/bob`, body: { role: "admin" } },
    { method: "POST", path: `/v1/conversations/${id}/read`, body: { seq: 1 } },
    { method: "PUT", path: `/v1/conversations/${id}/settings`, body: { muted: true } },
    { method: "GET", path: `/v1/conversations/${id}/attachments/a_00000000000000000000000000000000` },
    { method: "GET", path: `/v1/conversations/${id}/attachments/a_00000000000000000000000000000000/url` },
  ];
}

describe("an unknown conversation id", () => {
  it("answers 404 on every route and leaves no stored object behind", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = randomConversationId();
    for (const r of routes(id)) {
      const res = await api(r.method, r.path, { token: t.tokens.alice!, ...(r.body !== undefined ? { body: r.body } : {}) });
      expect(res.status, `${r.method} ${r.path}: ${JSON.stringify(res.body)}`).toBe(404);
      expectError(res, 404, "not_found");
    }
    const { socket, response } = await connect(id, t.tokens.alice!);
    expect(socket).toBeUndefined();
    expect(response.status).toBe(404);

    expect(await storedIn(t.tenantId, id)).toEqual({ tables: 0, alarm: null });
  });

  it("a conversation that exists is still stored and served", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    expect((await sendHttp(t.tokens.alice!, id, "m1", "hello")).status).toBe(201);
    expect((await storedIn(t.tenantId, id)).tables).toBeGreaterThan(0);
  });

  it("another tenant's conversation answers like an unknown one and stays unchanged", async () => {
    const a = await setupTenant(["alice", "bob"]);
    const b = await setupTenant(["alice"]);
    const id = await createGroup(a.tokens.alice!, ["bob"]);
    expect((await sendHttp(a.tokens.alice!, id, "m1", "hello")).status).toBe(201);
    for (const r of routes(id)) {
      const res = await api(r.method, r.path, { token: b.tokens.alice!, ...(r.body !== undefined ? { body: r.body } : {}) });
      expect(res.status, `${r.method} ${r.path}`).toBe(404);
    }
    expect(await storedIn(b.tenantId, id)).toEqual({ tables: 0, alarm: null });
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: a.tokens.alice! });
    expect(history.body.messages.map((m: { clientId: string }) => m.clientId)).toEqual(["m1"]);
  });
});
