import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../workers/index";
import { api, BASE, setupTenant } from "./helpers";
import type { PushConfig } from "./responses";

// A P-256 public key (RFC 8291 Appendix A's application server key), as `npm start` writes one to .dev.vars.
const VAPID_PUBLIC_KEY = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";

describe("GET /v1/push/config", () => {
  it("gives web clients the VAPID public key the Worker is configured with, as applicationServerKey", async () => {
    const t = await setupTenant(["alice"]);
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`${BASE}/v1/push/config`, { headers: { authorization: `Bearer ${t.tokens.alice!}` } }),
      { ...env, VAPID_PUBLIC_KEY },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ webpush: { applicationServerKey: VAPID_PUBLIC_KEY } });
  });

  it("answers null when Web Push is not configured, so a client knows not to subscribe", async () => {
    const t = await setupTenant(["alice"]);
    const res = await api<PushConfig>("GET", "/v1/push/config", { token: t.tokens.alice! });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ webpush: { applicationServerKey: null } });
  });

  it("is for signed-in users only", async () => {
    const res = await api<PushConfig>("GET", "/v1/push/config");
    expect(res.status).toBe(401);
  });
});
