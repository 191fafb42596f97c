/**
 * Where the service may send requests to URLs that tenants and users chose: push webhooks, Web Push
 * endpoints and outbound CRM endpoints. One check for all of them, applied at registration and again
 * before every send. The Worker cannot see what a name resolves to, so the check refuses names that are
 * known to resolve to private addresses instead: wildcard DNS services that echo an address embedded in the
 * name, and suffixes that only exist inside private networks.
 */

const MAX_URL_LENGTH = 2048;

export type EndpointCheck = { ok: true } | { ok: false; reason: string };

/**
 * May the service send to `url`? In "development" only loopback http(s) (127.0.0.0/8, localhost, [::1]) on
 * any port; in every other environment only `https:` on port 443 to a public DNS name or public IP literal.
 * URLs carrying credentials are always refused.
 */
export function checkOutboundUrl(url: string, environment: string): EndpointCheck {
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
  // The parser drops the default port, so any port left is not 443: SSH, Redis, admin consoles...
  if (parsed.port !== "") return { ok: false, reason: "endpoint must use the default https port (443)" };
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
  const name = checkPublicDnsName(host);
  return name.ok ? { ok: true } : name;
}

function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host === "[::1]") return true;
  const v4 = parseIpv4(host);
  return v4 !== undefined && v4[0] === 127;
}

/**
 * Suffixes that name private networks: special-use names (RFC 6761, RFC 6762 .local, RFC 8375 home.arpa,
 * ICANN .internal), the de facto private TLDs of home routers and corporate networks, and the names of
 * cluster DNS (Kubernetes, Consul, Docker).
 */
export const PRIVATE_SUFFIXES: readonly string[] = [
  "localhost",
  "local",
  "internal",
  "localdomain",
  "localnet",
  "home.arpa",
  "arpa",
  "test",
  "invalid",
  "example",
  "onion",
  "lan",
  "home",
  "corp",
  "intranet",
  "private",
  "priv",
  "svc",
  "cluster.local",
  "default",
  "kube-system",
  "consul",
  "docker",
  "lxd",
];

/** Public wildcard DNS services: any name under them resolves to an address spelt in the name (often 127.0.0.1). */
export const WILDCARD_DNS_SERVICES: readonly string[] = [
  "nip.io",
  "sslip.io",
  "xip.io",
  "traefik.me",
  "localtest.me",
  "lvh.me",
  "vcap.me",
  "lacolhost.com",
  "fuf.me",
  "local.gd",
  "localhost.direct",
  "1u.ms",
];

function checkPublicDnsName(host: string): EndpointCheck {
  const notPublic: EndpointCheck = { ok: false, reason: "endpoint must be a public DNS name" };
  if (host.length === 0 || host.length > 253) return notPublic;
  const labels = host.split(".");
  // A single label resolves only through a local search domain.
  if (labels.length < 2) return notPublic;
  if (!labels.every((l) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l))) return notPublic;
  // An all-numeric last label would be an IPv4 literal, which the URL parser would have canonicalised.
  if (/^\d+$/.test(labels[labels.length - 1] ?? "")) return notPublic;
  const under = (suffix: string) => host === suffix || host.endsWith(`.${suffix}`);
  if (PRIVATE_SUFFIXES.some(under)) return { ok: false, reason: "endpoint must not use a private-network name (.lan, .internal, .local, .svc ...)" };
  if (WILDCARD_DNS_SERVICES.some(under)) return { ok: false, reason: "endpoint must not use a wildcard DNS service (nip.io, sslip.io ...)" };
  // Unknown wildcard services spell the address as four numeric labels or as one label 127-0-0-1.
  if (/(?:^|\.)\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\./.test(host) || labels.some((l) => /^\d{1,3}(?:-\d{1,3}){3}$/.test(l))) {
    return { ok: false, reason: "endpoint must not be a name that spells an IP address" };
  }
  return { ok: true };
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

