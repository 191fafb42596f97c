import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, api, BASE, connect, createGroup, expectError, sendHttp, setupTenant } from "./helpers";
import type { MessagesPage } from "./responses";

/** Credentials in a URL end up in logs and browser history: only a WebSocket upgrade (which cannot set headers in a browser) may carry one. */
describe("?token= outside WebSocket upgrades", () => {
  it("is 401 on every HTTP endpoint, for reads and writes, and changes nothing", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "m1", "hello");
    const q = `token=${encodeURIComponent(t.tokens.alice!)}`;
    const calls: [string, string, unknown?][] = [
      ["GET", `/v1/conversations?${q}`],
      ["GET", `/v1/conversations/${id}?${q}`],
      ["GET", `/v1/conversations/${id}/messages?${q}`],
      ["POST", `/v1/conversations/${id}/messages?${q}`, { clientId: "q1", kind: "text", body: { text: "via query" } }],
      ["POST", `/v1/conversations/${id}/read?${q}`, { seq: 1 }],
      ["GET", `/v1/search/messages?q=hello&${q}`],
      ["GET", `/v1/presence?users=bob&${q}`],
      ["GET", `/v1/users/bob?${q}`],
      // The WebSocket routes themselves without an upgrade.
      ["GET", `/v1/conversations/${id}/ws?${q}`],
      ["GET", `/v1/ws?device=d1&${q}`],
    ];
    for (const [method, path, body] of calls) {
      const res = await api(method, path, body === undefined ? {} : { body });
      expectError(res, 401, "unauthorized");
      expect(res.body.error.message).toMatch(/WebSocket/);
    }
    // A bearer header does not make a token in the URL acceptable either.
    expectError(await api("GET", `/v1/conversations/${id}/messages?${q}`, { token: t.tokens.bob! }), 401, "unauthorized");
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.alice! });
    expect(history.body.messages.map((m: { clientId: string }) => m.clientId)).toEqual(["m1"]);
  });

  it("takes only a user token on an upgrade: an api key or the operator token in the URL is 401", async () => {
    const t = await setupTenant(["alice"]);
    const id = await createGroup(t.tokens.alice!, []);
    for (const credential of [t.apiKey, ADMIN]) {
      const res = await exports.default.fetch(`${BASE}/v1/conversations/${id}/ws?token=${encodeURIComponent(credential)}`, {
        headers: { Upgrade: "websocket" },
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
    const { socket, response } = await connect(id, t.tokens.alice!);
    expect(response.status).toBe(101);
    socket!.close();
  });
});
