import { describe, expect, it } from "vitest";
import { fillPath, routeTable } from "./routes";
import { api, createGroup, expectError, sendHttp, setupTenant } from "./helpers";
import type { MessagesPage, Reactions, User } from "./responses";

/** Percent escapes that decodeURIComponent refuses: not hex, an overlong "/", a lone surrogate, a bare "%". */
const MALFORMED = ["%ZZ", "%C0%AF", "%ED%A0%80", "%", "%E0%A4%A", "a%2"];

/** Every route of the app with each `:param` filled by `fill(name)`. */
function routePaths(fill: (param: string) => string): { method: string; path: string }[] {
  return routeTable().map((route) => ({ method: route.method, path: fillPath(route, fill) }));
}

describe("path parameters", () => {
  it("answers 400 for a malformed percent escape in any parameter of any route", async () => {
    const t = await setupTenant(["alice"]);
    const routes = routeTable().filter((r) => r.params.length > 0);
    expect(routes.length).toBeGreaterThan(20);
    for (const bad of MALFORMED) {
      for (const { method, path } of routePaths(() => bad)) {
        if (!path.includes(bad)) continue;
        for (const token of [t.tokens.alice!, t.apiKey]) {
          const res = await api(method, path, { token, ...(method === "GET" || method === "HEAD" ? {} : { body: {} }) });
          expectError(res, 400, "invalid_request");
          expect(res.body.error.message).toMatch(/^path/);
        }
      }
    }
  });

  it("answers 400 for a malformed escape in a fixed segment too, before authentication", async () => {
    for (const path of ["/v1/%ZZ", "/v1/conversations%ED%A0%80", "/%C0%AF/health"]) {
      expectError(await api("GET", path), 400, "invalid_request");
    }
  });

  it("refuses a bad emoji escape on a reaction and keeps the message intact", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "m1", "hello");
    for (const bad of ["%ZZ", "%C0%AF", "%ED%A0%80", "%25", "%25ZZ"]) {
      for (const method of ["PUT", "DELETE"]) {
        const res = await api(method, `/v1/conversations/${id}/messages/1/reactions/${bad}`, { token: t.tokens.bob! });
        expectError(res, 400, "invalid_request");
      }
    }
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.bob! });
    expect(history.status).toBe(200);
    expect(history.body.messages.map((m: { seq: number; reactions?: unknown }) => [m.seq, m.reactions ?? {}])).toEqual([[1, {}]]);
  });

  it("decodes a well-formed escape exactly once", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "m1", "hello");
    // ":%2B1:" is ":+1:" once decoded; decoding it twice would still be ":+1:", but "%253A" must stay "%3A".
    const ok = await api<Reactions>("PUT", `/v1/conversations/${id}/messages/1/reactions/${encodeURIComponent(":+1:")}`, { token: t.tokens.bob! });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.reactions).toEqual({ ":+1:": ["bob"] });
    expectError(await api("PUT", `/v1/conversations/${id}/messages/1/reactions/%253A%252B1%253A`, { token: t.tokens.bob! }), 400, "invalid_request");
    const user = await api<User>("GET", `/v1/users/${encodeURIComponent("alice")}`, { token: t.apiKey });
    expect(user.status).toBe(200);
  });
});
