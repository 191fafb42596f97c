import { env } from "cloudflare:workers";
import { createMessageBatch } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { checkOutboundUrl } from "../src/net/url-safety";
import { checkWebPushSubscription } from "../src/push/webpush";
import { consumePushBatch, deliveryDetail } from "../src/push/dispatch";
import { createWebhookProvider } from "../src/push/webhook";
import { consumeOutboundBatch } from "../src/crm/outbound";
import { pushJobId, type PushJob } from "../src/push/job";
import type { PushPlatform, PushProvider } from "../src/push/types";
import { api, setupTenant } from "./helpers";
import type { Device, EndpointCreated, EndpointDeliveries } from "./responses";

afterEach(() => vi.restoreAllMocks());

describe("the URL check shared by push webhooks, Web Push and outbound CRM endpoints", () => {
  const refused = (url: string) => expect(checkOutboundUrl(url, "production").ok, url).toBe(false);
  const accepted = (url: string) => expect(checkOutboundUrl(url, "production"), url).toEqual({ ok: true });

  it("in production refuses every address the audit got through, and any port but 443", () => {
    for (const url of [
      "https://127.0.0.1.nip.io/push",
      "https://10.0.0.1.nip.io/",
      "https://app.127-0-0-1.nip.io/",
      "https://localtest.me/",
      "https://api.localtest.me/",
      "https://169.254.169.254.sslip.io/latest/meta-data/",
      "https://169-254-169-254.sslip.io/",
      "https://127.0.0.1.xip.io/",
      "https://lvh.me/",
      "https://sub.lvh.me/",
      "https://vcap.me/",
      "https://traefik.me/",
      "https://10.0.0.5.example-wildcard.com/",
      "https://10-0-0-5.example-wildcard.com/",
      "https://router.lan/",
      "https://nas.home/",
      "https://vault.corp/",
      "https://db.internal/",
      "https://printer.local/",
      "https://api.svc.cluster.local/",
      "https://kubernetes.default.svc/",
      "https://kubernetes.default/",
      "https://consul.service.consul/",
      "https://router.home.arpa/",
      "https://1.0.0.127.in-addr.arpa/",
      "https://push-gateway.acme.io:22/",
      "https://push-gateway.acme.io:8443/",
      "https://push-gateway.acme.io:80/",
      "https://8.8.8.8:6379/",
      "https://[2606:4700:4700::1111]:8443/",
      "http://push-gateway.acme.io/",
      "https://10.0.0.1/",
      "https://[::ffff:169.254.169.254]/",
    ]) {
      refused(url);
    }
    for (const url of [
      "https://push-gateway.acme.io/v1/push",
      "https://push-gateway.acme.io:443/v1/push",
      "https://fcm.googleapis.com/fcm/send/abc",
      "https://updates.push.services.mozilla.com/wpush/v2/abc",
      "https://web.push.apple.com/abc",
      "https://8.8.8.8/push",
      "https://[2606:4700:4700::1111]/push",
      "https://hooks.example-crm.com/switchboard",
    ]) {
      accepted(url);
    }
  });

  it("in development keeps accepting loopback on any port, as API.md says", () => {
    for (const url of ["http://127.0.0.1:8788/push", "http://localhost:9000/hook", "https://[::1]:8443/"]) {
      expect(checkOutboundUrl(url, "development"), url).toEqual({ ok: true });
    }
    expect(checkOutboundUrl("https://127.0.0.1.nip.io/", "development").ok).toBe(false);
  });

  it("is the check Web Push subscriptions go through", () => {
    const keys = { p256dh: `B${"A".repeat(86)}`, auth: "AAAAAAAAAAAAAAAAAAAAAA" };
    const check = checkWebPushSubscription({ endpoint: "https://127.0.0.1.nip.io/wpush", keys }, "production");
    expect(check.ok).toBe(false);
  });

  it("is applied by the HTTP routes that register endpoints", async () => {
    const t = await setupTenant(["alice"]);
    for (const url of ["https://127.0.0.1.nip.io/crm", "https://crm.lan/hook", "https://crm.acme.io:22/"]) {
      const res = await api<EndpointCreated>("POST", "/v1/webhooks", { token: t.apiKey, body: { url, events: ["message.created"] } });
      expect(res.status, url).toBe(400);
      const device = await api<Device>("POST", "/v1/devices", { token: t.tokens.alice!, body: { id: "gw", platform: "webhook", endpoint: url } });
      expect(device.status, url).toBe(400);
    }
  });
});

describe("delivery logs keep coarse details", () => {
  const notification = { tenantId: "t-coarse", userId: "bob", deviceId: "gw", conversationId: "g_00000000000000000000000000000000", seq: 1, sender: "alice", preview: "hi", badge: 1, title: "Team" };
  const job = (seq: number): PushJob => {
    const n = { ...notification, seq };
    return { jobId: pushJobId(n), target: { platform: "webhook", endpoint: "http://127.0.0.1:9/hook" }, notification: n, createdAt: Date.now() };
  };

  it("records the status class of a push gateway's answer, never its body or a network error's text", async () => {
    const answers: (() => Response)[] = [
      () => new Response("internal secret: db=10.0.0.5 password=hunter2", { status: 400 }),
      () => new Response("stack trace at /srv/app", { status: 503 }),
      () => {
        throw new TypeError("connect ECONNREFUSED 10.0.0.5:6379 (internal-redis.corp)");
      },
    ];
    const fetcher = vi.fn(async () => answers.shift()!());
    const webhook = createWebhookProvider({ fetch: fetcher as unknown as typeof fetch, now: () => Date.now() }, { environment: "development" });
    const providers = { webhook } as unknown as Record<PushPlatform, PushProvider>;
    const jobs = [job(1), job(2), job(3)];
    for (const j of jobs) {
      // One at a time, so each job meets its own answer.
      await consumePushBatch(createMessageBatch("push", [{ id: j.jobId, timestamp: new Date(), attempts: 1, body: j }]), env, providers, { now: () => Date.now() });
    }
    const details = [];
    for (const j of jobs) {
      const row = await env.DB.prepare("SELECT detail FROM push_deliveries WHERE job_id = ?").bind(j.jobId).first<{ detail: string }>();
      details.push(row?.detail);
    }
    expect(details).toEqual(["answered 4xx", "answered 5xx", "network error"]);
    expect(deliveryDetail({ kind: "delivered", status: 201 })).toBe("answered 2xx");
  });

  it("records the status class of an outbound CRM endpoint's answer and no network error text", async () => {
    const t = await setupTenant(["alice"]);
    const ep = await api<EndpointCreated>("POST", "/v1/webhooks", { token: t.apiKey, body: { url: "http://127.0.0.1:9/crm", events: ["message.created"] } });
    expect(ep.status).toBe(201);
    const answers: (() => Response)[] = [
      () => new Response("<html>internal admin console</html>", { status: 403 }),
      () => {
        throw new TypeError("getaddrinfo ENOTFOUND secret-host.internal");
      },
    ];
    const fetcher = vi.fn(async () => answers.shift()!());
    for (const eventId of ["ev-1", "ev-2"]) {
      const body = { eventId, endpointId: ep.body.id, tenantId: t.tenantId, type: "message.created", data: {}, createdAt: Date.now() };
      await consumeOutboundBatch(createMessageBatch("events", [{ id: eventId, timestamp: new Date(), attempts: 1, body }]), env, fetcher as unknown as typeof fetch, () => Date.now());
    }
    const log = await api<EndpointDeliveries>("GET", `/v1/webhooks/${ep.body.id}/deliveries`, { token: t.apiKey });
    const details = (log.body.deliveries as { eventId: string; detail: string }[]).map((d) => [d.eventId, d.detail]).sort();
    expect(details).toEqual([
      ["ev-1", "endpoint answered 4xx"],
      ["ev-2", "network error"],
    ]);
  });
});
