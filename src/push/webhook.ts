/**
 * Platform `webhook`: POST the notification as JSON to the device's endpoint (an in-house push gateway).
 * The endpoint is user-supplied, so it is checked against SSRF both at registration and before each send.
 */

import type { PushDeps, PushNotification, PushOutcome, PushProvider, PushTarget } from "./types";
import { discardBody, fetchErrorReason, retryOutcome } from "./jose";

/** A gateway that has not answered in 10 s is treated as down: the queue retries later. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
const MAX_URL_LENGTH = 2048;

export type EndpointCheck = { ok: true } | { ok: false; reason: string };

/**
 * May a push be POSTed to `url`? In "development" only loopback http(s) (127.0.0.0/8, localhost, [::1]);
 * in every other environment only `https:` to a public DNS name or public IP literal. URLs carrying
 * credentials are always refused. Any port is allowed.
 */
export function checkWebhookEndpoint(url: string, environment: string): EndpointCheck {
  if (url.length > MAX_URL_LENGTH) return { ok: false, reason: "endpoint URL is too long" };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: "endpoint is not a valid URL" };
  }
  // Userinfo would be sent as Basic auth to whatever host the rest of the URL names; never wanted here.
  if (parsed.username !== "" || parsed.password !== "") {
    return { ok: false, reason: "endpoint must not contain credentials" };
  }
  // The WHATWG parser has already canonicalised the host: decimal/hex/octal IPv4 forms become
  // dotted quads and IPv6 is compressed and bracketed, so the checks below see one spelling only.
  const host = parsed.hostname.toLowerCase().replace(/\.$/, "");

  if (environment === "development") {
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      return { ok: false, reason: "endpoint must be http or https" };
    }
    if (!isLoopbackHost(host)) {
      return { ok: false, reason: "in development the endpoint must be a loopback address (127.0.0.0/8, localhost, [::1])" };
    }
    return { ok: true };
  }

  if (parsed.protocol !== "https:") return { ok: false, reason: "endpoint must be https" };
  if (host.startsWith("[")) {
    const groups = parseIpv6(host.slice(1, -1));
    if (!groups || !isPublicIpv6(groups)) return { ok: false, reason: "endpoint must not be a private or reserved IPv6 address" };
    return { ok: true };
  }
  const v4 = parseIpv4(host);
  if (v4) {
    if (!isPublicIpv4(v4)) return { ok: false, reason: "endpoint must not be a private or reserved IPv4 address" };
    return { ok: true };
  }
  if (!isPublicDnsName(host)) return { ok: false, reason: "endpoint must be a public DNS name" };
  return { ok: true };
}

function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host === "[::1]") return true;
  const v4 = parseIpv4(host);
  return v4 !== undefined && v4[0] === 127;
}

/** Special-use and internal-only suffixes (RFC 6761, RFC 6762 .local, RFC 8375 home.arpa, ICANN .internal). */
const PRIVATE_SUFFIXES = [
  "localhost",
  "local",
  "internal",
  "localdomain",
  "home.arpa",
  "test",
  "invalid",
  "example",
  "onion",
];

function isPublicDnsName(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  const labels = host.split(".");
  // A single label resolves only through a local search domain.
  if (labels.length < 2) return false;
  if (!labels.every((l) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l))) return false;
  // An all-numeric last label would be an IPv4 literal, which the URL parser would have canonicalised.
  if (/^\d+$/.test(labels[labels.length - 1] ?? "")) return false;
  return !PRIVATE_SUFFIXES.some((suffix) => host === suffix || host.endsWith(`.${suffix}`));
}

function parseIpv4(host: string): [number, number, number, number] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return undefined;
  const parts = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])] as [number, number, number, number];
  return parts.every((p) => p <= 255) ? parts : undefined;
}

function isPublicIpv4([a, b, c]: readonly [number, number, number, number]): boolean {
  if (a === 0 || a === 10 || a === 127) return false; // "this network", RFC 1918, loopback
  if (a === 100 && b >= 64 && b <= 127) return false; // CGNAT 100.64.0.0/10 (RFC 6598)
  if (a === 169 && b === 254) return false; // link-local (cloud metadata lives here)
  if (a === 172 && b >= 16 && b <= 31) return false; // RFC 1918
  if (a === 192 && b === 168) return false; // RFC 1918
  if (a === 192 && b === 0 && (c === 0 || c === 2)) return false; // IETF protocol assignments, TEST-NET-1
  if (a === 198 && (b === 18 || b === 19)) return false; // benchmarking 198.18.0.0/15
  if (a === 198 && b === 51 && c === 100) return false; // TEST-NET-2
  if (a === 203 && b === 0 && c === 113) return false; // TEST-NET-3
  if (a >= 224) return false; // multicast 224/4, reserved 240/4, broadcast
  return true;
}

/** Eight 16-bit groups of an IPv6 literal (without brackets; zone ids are not valid in URLs). */
function parseIpv6(text: string): number[] | undefined {
  let body = text;
  const tail: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (v4?.[1] !== undefined && v4[2] !== undefined) {
    const quad = parseIpv4(v4[2]);
    if (!quad) return undefined;
    tail.push((quad[0] << 8) | quad[1], (quad[2] << 8) | quad[3]);
    body = v4[1].endsWith("::") ? v4[1] : v4[1].slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0] ?? "");
  const rest = halves.length === 2 ? parse(halves[1] ?? "") : [];
  if (!head || !rest) return undefined;
  const explicit = head.length + rest.length + tail.length;
  if (halves.length === 2) {
    if (explicit > 7) return undefined;
    return [...head, ...new Array<number>(8 - explicit).fill(0), ...rest, ...tail];
  }
  return explicit === 8 ? [...head, ...tail] : undefined;
}

function isPublicIpv6(g: readonly number[]): boolean {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  // IPv4-mapped ::ffff:a.b.c.d reaches the IPv4 host, so it is as public as that address.
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) {
    return isPublicIpv4([g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff]);
  }
  // Only global unicast 2000::/3 is routable on the internet; this excludes ::, ::1, fc00::/7 (ULA),
  // fe80::/10 (link-local), ff00::/8 (multicast), 64:ff9b::/96 (NAT64) and IPv4-compatible forms.
  if ((g0 & 0xe000) !== 0x2000) return false;
  if (g0 === 0x2001 && g1 === 0x0db8) return false; // documentation (RFC 3849)
  if (g0 === 0x2001 && g1 === 0) return false; // Teredo tunnels to an embedded IPv4 address
  if (g0 === 0x2002) return false; // 6to4 embeds an arbitrary (possibly private) IPv4 address
  return true;
}

/** The JSON body of a webhook push, exactly the API.md field set. */
export function webhookBody(n: PushNotification): string {
  return JSON.stringify({
    tenantId: n.tenantId,
    userId: n.userId,
    deviceId: n.deviceId,
    conversationId: n.conversationId,
    seq: n.seq,
    sender: n.sender,
    preview: n.preview,
    badge: n.badge,
  });
}

export interface WebhookOptions {
  /** `ENVIRONMENT`: decides which endpoints are acceptable (see checkWebhookEndpoint). */
  environment: string;
  timeoutMs?: number;
}

/** The webhook provider: 2xx delivered; 404/410 gone; 408/429/5xx, timeouts and network errors retry; else failed. */
export function createWebhookProvider(deps: PushDeps, options: WebhookOptions): PushProvider {
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  return {
    platform: "webhook",
    async send(target: PushTarget, notification: PushNotification): Promise<PushOutcome> {
      try {
        if (target.platform !== "webhook") return { kind: "failed", reason: `webhook provider got a ${target.platform} target` };
        // Re-checked at send time: the environment may have changed since registration.
        const check = checkWebhookEndpoint(target.endpoint, options.environment);
        if (!check.ok) return { kind: "failed", reason: `endpoint refused: ${check.reason}` };
        let response: Response;
        try {
          response = await deps.fetch(target.endpoint, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: webhookBody(notification),
            // A redirect could point a vetted public URL at an internal address.
            redirect: "manual",
            signal: AbortSignal.timeout(timeoutMs),
          });
        } catch (error) {
          return { kind: "retry", reason: fetchErrorReason(error) };
        }
        await discardBody(response);
        return mapWebhookStatus(response, deps.now());
      } catch (error) {
        return { kind: "failed", reason: `webhook: ${error instanceof Error ? error.message : String(error)}` };
      }
    },
  };
}

function mapWebhookStatus(response: Response, nowMs: number): PushOutcome {
  const status = response.status;
  if (status >= 200 && status < 300) return { kind: "delivered", status };
  if (status === 404 || status === 410) return { kind: "gone", reason: `endpoint answered ${status}`, status };
  if (status === 408 || status === 429 || status >= 500) {
    return retryOutcome(`endpoint answered ${status}`, status, response.headers, nowMs);
  }
  if (status >= 300 && status < 400) return { kind: "failed", reason: `endpoint redirected (${status}); redirects are not followed`, status };
  return { kind: "failed", reason: `endpoint answered ${status}`, status };
}
