import { beforeEach, describe, expect, it } from "vitest";
import { apnsProviderToken, clearApnsTokenCache, createApnsProvider } from "../src/push/apns";
import { clearFcmTokenCache, createFcmProvider, FCM_SCOPE, FCM_TOKEN_URL } from "../src/push/fcm";
import { compactVerify, decodeJwt, exportPKCS8 } from "jose";
import { b64urlDecode, b64urlEncode, toHex, utf8, utf8Decode } from "../src/lib/encoding";
import { parseRetryAfter } from "../src/net/retry";
import { importPkcs8SigningKey } from "../src/push/jwt";
import { createProviders } from "../src/push/providers";
import type { PushDeps, PushNotification, PushOutcome, PushTarget } from "../src/push/types";
import { clearVapidCache, signVapidJwt, vapidAuthorization, VAPID_TOKEN_SECONDS, type VapidKeys } from "../src/push/vapid";
import { createWebhookProvider } from "../src/push/webhook";
import { checkOutboundUrl } from "../src/net/url-safety";
import {
  checkWebPushSubscription,
  createWebPushProvider,
  decryptWebPush,
  deriveWebPushKeys,
  encryptWebPush,
  importEcdhKeyPair,
  isValidWebPushSubscription,
  WEB_PUSH_MAX_PLAINTEXT,
  webPushTopic,
} from "../src/push/webpush";

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * Verify a compact JWT with jose, as a push service or Google would; its header and claims, or undefined.
 * Time claims are not checked (the RFC 8292 example expired in 2016).
 */
async function verifyJwt(token: string, key: CryptoKey, alg: "ES256" | "RS256") {
  try {
    const { payload, protectedHeader } = await compactVerify(token, key, { algorithms: [alg] });
    return { header: protectedHeader, claims: JSON.parse(utf8Decode(payload)) as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/** A raw uncompressed P-256 point (0x04 || x || y) as an ES256 verification key. */
function importEs256PublicKey(raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", raw, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
}

/** A fixed clock (2026-01-15T12:00:00Z) that tests move by hand. */
const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const T0_SECONDS = Math.floor(T0 / 1000);

interface Captured {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Uint8Array;
  text: string;
  redirect: string | undefined;
  signal: AbortSignal | undefined;
}

type Handler = (req: Captured) => Response | Promise<Response>;

/** An injected `fetch` (there is no outbound network here) that records every request it gets. */
function mockFetch(handler: Handler): { fetch: typeof fetch; requests: Captured[] } {
  const requests: Captured[] = [];
  const fn = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const body = new Uint8Array(await request.arrayBuffer());
    const captured: Captured = {
      url: request.url,
      method: request.method,
      headers: Object.fromEntries(request.headers),
      body,
      text: new TextDecoder().decode(body),
      redirect: init?.redirect,
      signal: init?.signal ?? undefined,
    };
    requests.push(captured);
    return handler(captured);
  };
  return { fetch: fn as typeof fetch, requests };
}

function deps(fetchImpl: typeof fetch, clock: { now: number }): PushDeps {
  return { fetch: fetchImpl, now: () => clock.now };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

/** A fetch that never answers until its AbortSignal fires, as a hung server would. */
const hangingFetch = ((_input: RequestInfo | URL, init?: RequestInit) =>
  new Promise<Response>((_resolve, reject) => {
    const signal = init?.signal;
    if (!signal) return;
    signal.addEventListener("abort", () => reject(signal.reason));
  })) as typeof fetch;

const failingFetch = (async () => {
  throw new TypeError("Network connection lost.");
}) as typeof fetch;

function makeEnv(vars: Partial<Record<keyof Env, string>>): Env {
  return { ENVIRONMENT: "production", ...vars } as unknown as Env;
}

const CONVERSATION = "g_0123456789abcdef0123456789abcdef";

const NOTIFICATION: PushNotification = {
  tenantId: "acme",
  userId: "u.alice",
  deviceId: "dev-1",
  conversationId: CONVERSATION,
  seq: 42,
  sender: "u.bob",
  preview: "Lunch at 12? 🍕",
  badge: 3,
  title: "Deal room",
};


// ---------------------------------------------------------------------------------------------
// RFC 8291 (aes128gcm message encryption)

/** RFC 8291 Appendix A, all base64url. */
const A = {
  plaintext: "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24",
  asPrivate: "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw",
  asPublic: "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8",
  uaPrivate: "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94",
  uaPublic: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
  salt: "DGv6ra1nlYgDCS1FRnbzlw",
  authSecret: "BTBZMqHH6r4Tts7J_aSIgg",
  ecdhSecret: "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs",
  keyInfo:
    "V2ViUHVzaDogaW5mbwAEJXGyvs3942BVGq8e0PTNNmwRzr5VX4m8t7GGpTM5FzFo7OLr4BhZe9MEebhuPI-OztV3ylkYfpJGmQ22ggCLDgT-M_SrDepxkU21WCP3O1SUj0EwbZIHMtu5pZpTKGSCIA5Zent7wmC6HCJ5mFgJkuk5cwAvMBKiiujwa7t45ewP",
  prkKey: "Snr3JMxaHVDXHWJn5wdC52WjpCtd2EIEGBykDcZW32k",
  ikm: "S4lYMb_L0FxCeq0WhDx813KgSYqU26kOyzWUdsXYyrg",
  prk: "09_eUZGrsvxChDCGRCdkLiDXrReGOEVeSCdCcPBSJSc",
  cek: "oIhVW04MRdy2XN9CiKLxTg",
  nonce: "4h_95klXJ5E_qnoN",
  header:
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8",
  ciphertext: "8pfeW0KbunFT06SuDKoJH9Ql87S1QUrdirN6GcG7sFz1y1sqLgVi1VhjVkHsUoEsbI_0LpXMuGvnzQ",
  body:
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
};

describe("RFC 8291 aes128gcm encryption (Appendix A vector)", () => {
  const asPair = () => importEcdhKeyPair(b64urlDecode(A.asPublic), b64urlDecode(A.asPrivate));
  const uaPair = () => importEcdhKeyPair(b64urlDecode(A.uaPublic), b64urlDecode(A.uaPrivate));

  it("derives every intermediate value of Appendix A", async () => {
    const as = await asPair();
    const uaPublicKey = await crypto.subtle.importKey("raw", b64urlDecode(A.uaPublic), { name: "ECDH", namedCurve: "P-256" }, false, []);
    const ecdh = new Uint8Array(
      await crypto.subtle.deriveBits({ name: "ECDH", public: uaPublicKey } as SubtleCryptoDeriveKeyAlgorithm, as.privateKey, 256),
    );
    expect(b64urlEncode(ecdh)).toBe(A.ecdhSecret);
    const keys = await deriveWebPushKeys(ecdh, b64urlDecode(A.authSecret), b64urlDecode(A.uaPublic), b64urlDecode(A.asPublic), b64urlDecode(A.salt));
    expect(b64urlEncode(keys.prkKey)).toBe(A.prkKey);
    expect(b64urlEncode(keys.keyInfo)).toBe(A.keyInfo);
    expect(b64urlEncode(keys.ikm)).toBe(A.ikm);
    expect(b64urlEncode(keys.prk)).toBe(A.prk);
    expect(b64urlEncode(keys.cek)).toBe(A.cek);
    expect(b64urlEncode(keys.nonce)).toBe(A.nonce);
  });

  it("produces the Appendix A body byte for byte with the salt and key pair pinned", async () => {
    const body = await encryptWebPush(b64urlDecode(A.plaintext), b64urlDecode(A.uaPublic), b64urlDecode(A.authSecret), {
      salt: b64urlDecode(A.salt),
      asKeyPair: await asPair(),
    });
    expect(b64urlEncode(body)).toBe(A.body);
    expect(b64urlEncode(body.subarray(0, 86))).toBe(A.header);
    expect(b64urlEncode(body.subarray(86))).toBe(A.ciphertext);
    // Record size 4096 is big-endian (a known bug in one npm library writes it little-endian).
    expect(toHex(body.subarray(16, 21))).toBe("0000100041");
  });

  it("decrypts with ua_private back to the plaintext (the user agent's side)", async () => {
    const plaintext = await decryptWebPush(b64urlDecode(A.body), await uaPair(), b64urlDecode(A.authSecret));
    expect(new TextDecoder().decode(plaintext)).toBe("When I grow up, I want to be a watermelon");
  });

  it("fails authentication when any byte is tampered with", async () => {
    const ua = await uaPair();
    for (const index of [0, 30, 90, b64urlDecode(A.body).length - 1]) {
      const body = b64urlDecode(A.body);
      body[index] = (body[index] ?? 0) ^ 0x01;
      await expect(decryptWebPush(body, ua, b64urlDecode(A.authSecret))).rejects.toThrow();
    }
    await expect(decryptWebPush(b64urlDecode(A.body), ua, crypto.getRandomValues(new Uint8Array(16)))).rejects.toThrow();
  });

  it("round-trips with fresh random salt and keys, padding included, and refuses more than one record", async () => {
    const ua = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
    const uaPublic = new Uint8Array((await crypto.subtle.exportKey("raw", ua.publicKey)) as ArrayBuffer);
    const auth = crypto.getRandomValues(new Uint8Array(16));
    const message = utf8("héllo ✓");
    const a = await encryptWebPush(message, uaPublic, auth, { padding: 100 });
    const b = await encryptWebPush(message, uaPublic, auth, { padding: 100 });
    expect(a.length).toBe(86 + message.length + 1 + 100 + 16);
    expect(toHex(a.subarray(0, 16))).not.toBe(toHex(b.subarray(0, 16)));
    expect(new TextDecoder().decode(await decryptWebPush(a, ua, auth))).toBe("héllo ✓");
    const max = await encryptWebPush(new Uint8Array(WEB_PUSH_MAX_PLAINTEXT), uaPublic, auth);
    expect(max.length).toBe(4096);
    await expect(encryptWebPush(new Uint8Array(WEB_PUSH_MAX_PLAINTEXT + 1), uaPublic, auth)).rejects.toThrow(/4096/);
  });
});

// ---------------------------------------------------------------------------------------------
// RFC 8292 (VAPID)

async function generateVapidKeys(subject = "mailto:ops@switchboard.example.com"): Promise<VapidKeys> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const raw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const jwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  return { publicKey: b64urlEncode(raw), privateKey: jwk.d ?? "", subject };
}

describe("RFC 8292 VAPID", () => {
  beforeEach(() => clearVapidCache());

  const RFC_T =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2guZXhhbXBsZS5uZXQiLCJleHAiOjE0NTM1MjM3NjgsInN1YiI6Im1haWx0bzpwdXNoQGV4YW1wbGUuY29tIn0.i3CYb7t4xfxCDquptFOepC9GAu_HLGkMlMuCGSK2rpiUfnK9ojFwDXb1JrErtmysazNjjvW2L9OkSSHzvoD1oA";
  const RFC_K = "BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs";

  it("verifies the §2.4 example token with its key (verify-only vector)", async () => {
    const key = await importEs256PublicKey(b64urlDecode(RFC_K));
    const jwk = (await crypto.subtle.exportKey("jwk", key)) as JsonWebKey;
    expect(jwk.x).toBe("DUfHPKLVFQzVvnCPGyfucbECzPDa7rWbXriLcysAjEc");
    expect(jwk.y).toBe("F6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs");
    const verified = await verifyJwt(RFC_T, key, "ES256");
    expect(verified?.header).toEqual({ typ: "JWT", alg: "ES256" });
    expect(verified?.claims).toEqual({ aud: "https://push.example.net", exp: 1453523768, sub: "mailto:push@example.com" });
  });

  it("rejects the example token once altered, or under another alg", async () => {
    const key = await importEs256PublicKey(b64urlDecode(RFC_K));
    const [h, c, s] = RFC_T.split(".") as [string, string, string];
    const otherClaims = b64urlEncode(utf8(JSON.stringify({ aud: "https://evil.example", exp: 1453523768, sub: "mailto:push@example.com" })));
    expect(await verifyJwt(`${h}.${otherClaims}.${s}`, key, "ES256")).toBeUndefined();
    expect(await verifyJwt(`${h}.${c}.${s.slice(0, -2)}AA`, key, "ES256")).toBeUndefined();
    expect(await verifyJwt(RFC_T, key, "RS256")).toBeUndefined();
  });

  it("signs a token that verifies with our k, with aud = origin, exp within 12 h and our sub", async () => {
    const keys = await generateVapidKeys();
    const token = await signVapidJwt(keys, "https://fcm.googleapis.com", T0);
    const verified = await verifyJwt(token, await importEs256PublicKey(b64urlDecode(keys.publicKey)), "ES256");
    expect(verified?.header).toEqual({ typ: "JWT", alg: "ES256" });
    expect(verified?.claims).toEqual({ aud: "https://fcm.googleapis.com", exp: T0_SECONDS + 12 * 3600, sub: keys.subject });
    expect(Number(verified?.claims["exp"])).toBeLessThanOrEqual(T0_SECONDS + 24 * 3600);
  });

  it("caches the Authorization per audience until half its lifetime", async () => {
    const keys = await generateVapidKeys();
    const a1 = await vapidAuthorization(keys, "https://updates.push.services.mozilla.com/wpush/v2/aaa", T0);
    const a2 = await vapidAuthorization(keys, "https://updates.push.services.mozilla.com/wpush/v2/bbb", T0 + 1000);
    expect(a2).toBe(a1);
    expect(a1).toMatch(new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${keys.publicKey}$`));
    const other = await vapidAuthorization(keys, "https://fcm.googleapis.com/fcm/send/x", T0);
    expect(decodeJwt(other.slice(8, other.indexOf(","))).aud).toBe("https://fcm.googleapis.com");
    const late = await vapidAuthorization(keys, "https://updates.push.services.mozilla.com/wpush/v2/aaa", T0 + (VAPID_TOKEN_SECONDS * 1000) / 2);
    expect(late).not.toBe(a1);
    expect(decodeJwt(late.slice(8, late.indexOf(","))).exp).toBe(T0_SECONDS + VAPID_TOKEN_SECONDS / 2 + VAPID_TOKEN_SECONDS);
  });
});

// ---------------------------------------------------------------------------------------------
// Subscription validation

describe("isValidWebPushSubscription", () => {
  const valid = { endpoint: "https://fcm.googleapis.com/fcm/send/abc:def", keys: { p256dh: A.uaPublic, auth: A.authSecret } };

  it("accepts a browser subscription and drops extra fields", () => {
    expect(isValidWebPushSubscription(valid)).toBe(true);
    const checked = checkWebPushSubscription({ ...valid, expirationTime: null });
    expect(checked).toEqual({ ok: true, subscription: valid });
  });

  it("checks p256dh is a 65-byte 0x04 point and auth is 16 bytes", () => {
    const point = b64urlDecode(A.uaPublic);
    const compressed = point.slice(0, 33);
    compressed[0] = 0x02;
    const wrongPrefix = point.slice();
    wrongPrefix[0] = 0x05;
    for (const p256dh of [b64urlEncode(compressed), b64urlEncode(wrongPrefix), b64urlEncode(point.slice(0, 64)), "not base64!", ""]) {
      expect(isValidWebPushSubscription({ ...valid, keys: { ...valid.keys, p256dh } })).toBe(false);
    }
    for (const auth of [b64urlEncode(new Uint8Array(15)), b64urlEncode(new Uint8Array(17)), "%%%"]) {
      expect(isValidWebPushSubscription({ ...valid, keys: { ...valid.keys, auth } })).toBe(false);
    }
    const reason = checkWebPushSubscription({ ...valid, keys: { ...valid.keys, auth: "AAAA" } });
    expect(reason).toEqual({ ok: false, reason: expect.stringMatching(/auth/) });
  });

  it("refuses missing fields, non-objects and non-public endpoints", () => {
    for (const bad of [null, "x", 1, {}, { endpoint: valid.endpoint }, { keys: valid.keys }, { ...valid, keys: { p256dh: A.uaPublic } }]) {
      expect(isValidWebPushSubscription(bad)).toBe(false);
    }
    for (const endpoint of ["http://fcm.googleapis.com/fcm/send/x", "https://10.0.0.5/push", "https://localhost/push", "nope"]) {
      expect(isValidWebPushSubscription({ ...valid, endpoint })).toBe(false);
    }
  });

  it("allows a loopback push service only in development, where public endpoints stay valid", () => {
    const local = { ...valid, endpoint: "http://127.0.0.1:9999/push/abc" };
    expect(isValidWebPushSubscription(local)).toBe(false);
    expect(isValidWebPushSubscription(local, "production")).toBe(false);
    expect(isValidWebPushSubscription(local, "development")).toBe(true);
    expect(isValidWebPushSubscription(valid, "development")).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Web Push provider

describe("webpush provider", () => {
  beforeEach(() => clearVapidCache());

  async function setup(handler: Handler) {
    const vapid = await generateVapidKeys();
    const ua = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
    const auth = crypto.getRandomValues(new Uint8Array(16));
    const subscription = {
      endpoint: "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk",
      keys: { p256dh: b64urlEncode((await crypto.subtle.exportKey("raw", ua.publicKey)) as ArrayBuffer), auth: b64urlEncode(auth) },
    };
    const mock = mockFetch(handler);
    const clock = { now: T0 };
    const env = makeEnv({ VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, VAPID_SUBJECT: vapid.subject });
    const provider = createProviders(env, deps(mock.fetch, clock)).webpush;
    const target: PushTarget = { platform: "webpush", subscription };
    return { vapid, ua, auth, subscription, mock, clock, provider, target };
  }

  it("POSTs an RFC 8291 body with the RFC 8030 and RFC 8292 headers", async () => {
    const s = await setup(() => new Response(null, { status: 201, headers: { location: "https://push.example/m/1" } }));
    expect(await s.provider.send(s.target, NOTIFICATION)).toEqual({ kind: "delivered", status: 201 });
    expect(s.mock.requests).toHaveLength(1);
    const req = s.mock.requests[0]!;
    expect(req.url).toBe(s.subscription.endpoint);
    expect(req.method).toBe("POST");
    expect(req.redirect).toBe("manual");
    const { authorization, ...rest } = req.headers;
    expect(rest).toEqual({
      ttl: "86400",
      urgency: "high",
      topic: await webPushTopic(CONVERSATION),
      "content-encoding": "aes128gcm",
      "content-type": "application/octet-stream",
    });
    expect(rest.topic).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const m = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(authorization ?? "");
    expect(m?.[2]).toBe(s.vapid.publicKey);
    const jwt = await verifyJwt(m?.[1] ?? "", await importEs256PublicKey(b64urlDecode(s.vapid.publicKey)), "ES256");
    expect(jwt?.claims).toEqual({ aud: "https://updates.push.services.mozilla.com", exp: T0_SECONDS + 43200, sub: s.vapid.subject });

    const plaintext = new TextDecoder().decode(await decryptWebPush(req.body, s.ua, s.auth));
    expect(plaintext).toBe(
      JSON.stringify({ conversationId: CONVERSATION, seq: 42, sender: "u.bob", preview: "Lunch at 12? 🍕", badge: 3, title: "Deal room" }),
    );
    // Padded to a 64-byte boundary so the length hides the preview's exact size.
    expect((req.body.length - 86 - 16) % 64).toBe(0);
  });

  it("uses one topic per conversation and a fresh salt and key per message", async () => {
    const s = await setup(() => new Response(null, { status: 201 }));
    await s.provider.send(s.target, NOTIFICATION);
    await s.provider.send(s.target, { ...NOTIFICATION, seq: 43 });
    await s.provider.send(s.target, { ...NOTIFICATION, conversationId: "d_ffffffffffffffffffffffffffffffff" });
    const [a, b, c] = s.mock.requests as [Captured, Captured, Captured];
    expect(a.headers["topic"]).toBe(b.headers["topic"]);
    expect(c.headers["topic"]).not.toBe(a.headers["topic"]);
    expect(toHex(a.body.subarray(0, 86))).not.toBe(toHex(b.body.subarray(0, 86)));
    expect(a.headers["authorization"]).toBe(b.headers["authorization"]);
  });

  it("cuts a long preview so the body fits one 4096-byte record", async () => {
    const s = await setup(() => new Response(null, { status: 201 }));
    await s.provider.send(s.target, { ...NOTIFICATION, preview: "𝄞".repeat(3000) });
    const req = s.mock.requests[0]!;
    expect(req.body.length).toBeLessThanOrEqual(4096);
    const payload = JSON.parse(new TextDecoder().decode(await decryptWebPush(req.body, s.ua, s.auth))) as { preview: string };
    expect(payload.preview.endsWith("…")).toBe(true);
    expect(payload.preview.length).toBeGreaterThan(1000);
    expect(payload.preview).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it("maps push service answers to outcomes", async () => {
    const cases: Array<[Response, PushOutcome]> = [
      [new Response(null, { status: 200 }), { kind: "delivered", status: 200 }],
      [new Response(null, { status: 404 }), { kind: "gone", status: 404, reason: expect.any(String) as string }],
      [new Response(null, { status: 410 }), { kind: "gone", status: 410, reason: expect.any(String) as string }],
      [new Response(null, { status: 429, headers: { "retry-after": "30" } }), { kind: "retry", status: 429, retryAfterSeconds: 30, reason: expect.any(String) as string }],
      [new Response(null, { status: 503 }), { kind: "retry", status: 503, reason: expect.any(String) as string }],
      [new Response(null, { status: 400 }), { kind: "failed", status: 400, reason: expect.any(String) as string }],
      [new Response(null, { status: 403 }), { kind: "failed", status: 403, reason: expect.any(String) as string }],
      [new Response(null, { status: 413 }), { kind: "failed", status: 413, reason: expect.any(String) as string }],
    ];
    for (const [response, outcome] of cases) {
      const s = await setup(() => response);
      expect(await s.provider.send(s.target, NOTIFICATION)).toEqual(outcome);
    }
  });

  it("re-signs its VAPID token after a 403", async () => {
    let status = 403;
    const s = await setup(() => new Response(null, { status }));
    await s.provider.send(s.target, NOTIFICATION);
    s.clock.now += 1000;
    status = 201;
    await s.provider.send(s.target, NOTIFICATION);
    expect(s.mock.requests[0]!.headers["authorization"]).not.toBe(s.mock.requests[1]!.headers["authorization"]);
  });

  it("turns network errors and timeouts into retry, and refuses a bad subscription without fetching", async () => {
    const s = await setup(() => new Response(null, { status: 201 }));
    const vapid = { publicKey: s.vapid.publicKey, privateKey: s.vapid.privateKey, subject: s.vapid.subject };
    const down = createWebPushProvider(vapid, deps(failingFetch, s.clock), { environment: "production" });
    expect(await down.send(s.target, NOTIFICATION)).toEqual({ kind: "retry", reason: expect.stringMatching(/network/) });
    const hung = createWebPushProvider(vapid, deps(hangingFetch, s.clock), { environment: "production", timeoutMs: 50 });
    expect(await hung.send(s.target, NOTIFICATION)).toEqual({ kind: "retry", reason: "timeout" });
    const bad: PushTarget = { platform: "webpush", subscription: { ...s.subscription, keys: { ...s.subscription.keys, auth: "AAAA" } } };
    expect(await s.provider.send(bad, NOTIFICATION)).toMatchObject({ kind: "failed" });
    expect(await s.provider.send({ platform: "fcm", token: "x" }, NOTIFICATION)).toMatchObject({ kind: "failed" });
    expect(s.mock.requests).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------
// FCM HTTP v1

async function makeServiceAccount(email = "push@switchboard-test.iam.gserviceaccount.com") {
  const pair = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const pem = await exportPKCS8(pair.privateKey);
  const account = {
    type: "service_account",
    project_id: "switchboard-test",
    private_key_id: "0123456789abcdef0123456789abcdef01234567",
    private_key: pem,
    client_email: email,
    client_id: "1234567890",
    token_uri: "https://oauth2.googleapis.com/token",
  };
  return { account, json: JSON.stringify(account), publicKey: pair.publicKey };
}

const FCM_SEND_URL = "https://fcm.googleapis.com/v1/projects/switchboard-test/messages:send";

function expectedFcmBody(token: string, n: PushNotification): string {
  return JSON.stringify({
    message: {
      token,
      notification: { title: n.title, body: n.preview },
      data: { conversationId: n.conversationId, seq: String(n.seq), sender: n.sender, badge: String(n.badge) },
      android: { priority: "HIGH", collapse_key: n.conversationId },
      apns: {
        headers: { "apns-priority": "10", "apns-push-type": "alert", "apns-collapse-id": n.conversationId },
        payload: { aps: { alert: { title: n.title, body: n.preview }, badge: n.badge, sound: "default", "thread-id": n.conversationId } },
      },
    },
  });
}

describe("fcm provider", () => {
  beforeEach(() => clearFcmTokenCache());

  async function setup(sendHandler: Handler, tokenHandler?: Handler) {
    const sa = await makeServiceAccount();
    const issued: string[] = [];
    const mock = mockFetch(async (req) => {
      if (req.url === FCM_TOKEN_URL) {
        if (tokenHandler) return tokenHandler(req);
        const accessToken = `ya29.token-${issued.length + 1}`;
        issued.push(accessToken);
        return json(200, { access_token: accessToken, expires_in: 3599, token_type: "Bearer" });
      }
      return sendHandler(req);
    });
    const clock = { now: T0 };
    const provider = createProviders(makeEnv({ FCM_SERVICE_ACCOUNT: sa.json }), deps(mock.fetch, clock)).fcm;
    return { sa, mock, clock, provider, issued };
  }
  const target: PushTarget = { platform: "fcm", token: "dXk3:APA91bH-fake_registration_token" };
  const ok = () => json(200, { name: "projects/switchboard-test/messages/0:1500415314455276%31bd1c9631bd1c96" });

  it("exchanges a signed service-account JWT once and sends the v1 message to the token", async () => {
    const s = await setup(ok);
    expect(await s.provider.send(target, NOTIFICATION)).toEqual({ kind: "delivered", status: 200 });
    expect(await s.provider.send(target, { ...NOTIFICATION, seq: 43 })).toEqual({ kind: "delivered", status: 200 });

    const tokenRequests = s.mock.requests.filter((r) => r.url === FCM_TOKEN_URL);
    expect(tokenRequests).toHaveLength(1);
    const tokenReq = tokenRequests[0]!;
    expect(tokenReq.method).toBe("POST");
    expect(tokenReq.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    const form = new URLSearchParams(tokenReq.text);
    expect([...form.keys()]).toEqual(["grant_type", "assertion"]);
    expect(tokenReq.text.startsWith("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")).toBe(true);
    const publicKey = s.sa.publicKey;
    const assertion = await verifyJwt(form.get("assertion") ?? "", publicKey, "RS256");
    expect(assertion?.header).toEqual({ alg: "RS256", typ: "JWT", kid: s.sa.account.private_key_id });
    expect(assertion?.claims).toEqual({
      iss: s.sa.account.client_email,
      scope: FCM_SCOPE,
      aud: "https://oauth2.googleapis.com/token",
      iat: T0_SECONDS,
      exp: T0_SECONDS + 3600,
    });

    const sends = s.mock.requests.filter((r) => r.url !== FCM_TOKEN_URL);
    expect(sends).toHaveLength(2);
    for (const send of sends) {
      expect(send.url).toBe(FCM_SEND_URL);
      expect(send.method).toBe("POST");
      expect(send.headers["authorization"]).toBe("Bearer ya29.token-1");
      expect(send.headers["content-type"]).toBe("application/json");
    }
    expect(sends[0]!.text).toBe(expectedFcmBody(target.token, NOTIFICATION));
    expect(sends[1]!.text).toBe(expectedFcmBody(target.token, { ...NOTIFICATION, seq: 43 }));
    const data = (JSON.parse(sends[0]!.text) as { message: { data: Record<string, unknown> } }).message.data;
    expect(Object.values(data).every((v) => typeof v === "string")).toBe(true);
  });

  it("shares one token exchange between concurrent sends and re-mints 5 minutes before expiry", async () => {
    const s = await setup(ok);
    await Promise.all([s.provider.send(target, NOTIFICATION), s.provider.send(target, NOTIFICATION), s.provider.send(target, NOTIFICATION)]);
    expect(s.issued).toEqual(["ya29.token-1"]);
    s.clock.now = T0 + (3599 - 301) * 1000;
    await s.provider.send(target, NOTIFICATION);
    expect(s.issued).toHaveLength(1);
    s.clock.now = T0 + (3599 - 299) * 1000;
    await s.provider.send(target, NOTIFICATION);
    expect(s.issued).toEqual(["ya29.token-1", "ya29.token-2"]);
    expect(s.mock.requests.at(-1)!.headers["authorization"]).toBe("Bearer ya29.token-2");
  });

  it("keeps the token cache across provider instances (module level, per client_email)", async () => {
    const s = await setup(ok);
    await s.provider.send(target, NOTIFICATION);
    const again = createProviders(makeEnv({ FCM_SERVICE_ACCOUNT: s.sa.json }), deps(s.mock.fetch, s.clock)).fcm;
    await again.send(target, NOTIFICATION);
    expect(s.issued).toHaveLength(1);
  });

  const fcmError = (status: number, errorStatus: string, errorCode: string | undefined, message: string, extra: object[] = []) =>
    json(status, {
      error: {
        code: status,
        message,
        status: errorStatus,
        details: [
          ...(errorCode ? [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode }] : []),
          ...extra,
        ],
      },
    });

  it("maps FCM errors by details[].errorCode", async () => {
    const any = expect.any(String) as string;
    const cases: Array<[() => Response, PushOutcome]> = [
      [() => fcmError(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."), { kind: "gone", status: 404, reason: any }],
      [
        () =>
          fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", [
            { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "message.token", description: "Invalid registration token" }] },
          ]),
        { kind: "gone", status: 400, reason: any },
      ],
      [
        () => fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid value at 'message.data[0].value' (TYPE_STRING), 3"),
        { kind: "failed", status: 400, reason: any },
      ],
      [() => fcmError(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"), { kind: "gone", status: 403, reason: any }],
      [
        () => fcmError(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded", []),
        { kind: "retry", status: 429, reason: any },
      ],
      [() => new Response(fcmError(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota").body, { status: 429, headers: { "Retry-After": "17" } }), { kind: "retry", status: 429, retryAfterSeconds: 17, reason: any }],
      [() => new Response(fcmError(503, "UNAVAILABLE", "UNAVAILABLE", "Unavailable").body, { status: 503, headers: { "Retry-After": "60" } }), { kind: "retry", status: 503, retryAfterSeconds: 60, reason: any }],
      [() => fcmError(500, "INTERNAL", "INTERNAL", "Internal error"), { kind: "retry", status: 500, reason: any }],
      [() => new Response("<html>bad gateway</html>", { status: 502 }), { kind: "retry", status: 502, reason: any }],
      [() => fcmError(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS or Web Push Service"), { kind: "failed", status: 401, reason: any }],
      [() => fcmError(403, "PERMISSION_DENIED", undefined, "Permission denied"), { kind: "failed", status: 403, reason: any }],
    ];
    for (const [respond, outcome] of cases) {
      clearFcmTokenCache();
      const s = await setup(respond);
      expect(await s.provider.send(target, NOTIFICATION)).toEqual(outcome);
    }
    const s = await setup(() => fcmError(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."));
    expect(await s.provider.send(target, NOTIFICATION)).toMatchObject({ kind: "gone", reason: expect.stringMatching(/UNREGISTERED/) });
  });

  it("drops a cached access token the server rejects with 401, then re-mints", async () => {
    let sends = 0;
    const s = await setup(() => {
      sends++;
      return sends === 2 ? fcmError(401, "UNAUTHENTICATED", undefined, "Request had invalid authentication credentials.") : json(200, { name: "x" });
    });
    expect(await s.provider.send(target, NOTIFICATION)).toMatchObject({ kind: "delivered" });
    expect(await s.provider.send(target, NOTIFICATION)).toMatchObject({ kind: "retry", status: 401 });
    expect(await s.provider.send(target, NOTIFICATION)).toMatchObject({ kind: "delivered" });
    expect(s.issued).toEqual(["ya29.token-1", "ya29.token-2"]);
  });

  it("maps token-exchange failures: invalid_grant failed, 503 retry, network retry", async () => {
    const bad = await setup(ok, () => json(400, { error: "invalid_grant", error_description: "Invalid JWT Signature." }));
    expect(await bad.provider.send(target, NOTIFICATION)).toEqual({ kind: "failed", status: 400, reason: expect.stringMatching(/invalid_grant/) });
    clearFcmTokenCache();
    const busy = await setup(ok, () => new Response("", { status: 503, headers: { "retry-after": "5" } }));
    expect(await busy.provider.send(target, NOTIFICATION)).toMatchObject({ kind: "retry", status: 503, retryAfterSeconds: 5 });
    clearFcmTokenCache();
    const sa = await makeServiceAccount();
    const down = createProviders(makeEnv({ FCM_SERVICE_ACCOUNT: sa.json }), deps(failingFetch, { now: T0 })).fcm;
    expect(await down.send(target, NOTIFICATION)).toEqual({ kind: "retry", reason: expect.stringMatching(/network/) });
    clearFcmTokenCache();
    const hung = createFcmProvider(sa.account, deps(hangingFetch, { now: T0 }), { timeoutMs: 50 });
    expect(await hung.send(target, NOTIFICATION)).toEqual({ kind: "retry", reason: "fcm token: timeout" });
  });

  it("takes a private key whose newlines arrived as literal \\n (pasted without JSON decoding)", async () => {
    const sa = await makeServiceAccount();
    const key = await importPkcs8SigningKey(sa.account.private_key.replace(/\n/g, "\\n"), "RS256");
    expect(key.algorithm.name).toBe("RSASSA-PKCS1-v1_5");
  });

  it("fails (never throws) with an unusable private key", async () => {
    const sa = await makeServiceAccount("broken@x.iam.gserviceaccount.com");
    const json = JSON.stringify({ ...sa.account, private_key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" });
    const mock = mockFetch(ok);
    const provider = createProviders(makeEnv({ FCM_SERVICE_ACCOUNT: json }), deps(mock.fetch, { now: T0 })).fcm;
    expect(await provider.send(target, NOTIFICATION)).toMatchObject({ kind: "failed" });
    expect(mock.requests).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------
// APNs

describe("apns provider", () => {
  beforeEach(() => clearApnsTokenCache());

  const DEVICE = "a".repeat(8) + "0123456789abcdef".repeat(3) + "deadbeef";
  const target: PushTarget = { platform: "apns", token: DEVICE };

  async function setup(handler: Handler, extra: Partial<Record<keyof Env, string>> = {}) {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const pem = await exportPKCS8(pair.privateKey);
    const mock = mockFetch(handler);
    const clock = { now: T0 };
    const env = makeEnv({
      APNS_KEY_ID: "ABC123DEFG",
      APNS_TEAM_ID: "DEF123GHIJ",
      APNS_PRIVATE_KEY: pem,
      APNS_BUNDLE_ID: "com.example.switchboard",
      ...extra,
    });
    const provider = createProviders(env, deps(mock.fetch, clock)).apns;
    return { publicKey: pair.publicKey, mock, clock, provider, pem };
  }

  it("POSTs the alert with exactly the token-auth headers and a verifiable provider token", async () => {
    const s = await setup(() => new Response(null, { status: 200, headers: { "apns-id": "EF5E2E7C-0000-0000-0000-000000000000" } }));
    expect(await s.provider.send(target, NOTIFICATION)).toEqual({ kind: "delivered", status: 200 });
    const req = s.mock.requests[0]!;
    expect(req.url).toBe(`https://api.push.apple.com/3/device/${DEVICE}`);
    expect(req.method).toBe("POST");
    const { authorization, ...headers } = req.headers;
    expect(headers).toEqual({
      "apns-topic": "com.example.switchboard",
      "apns-push-type": "alert",
      "apns-priority": "10",
      "apns-expiration": String(T0_SECONDS + 86400),
      "apns-collapse-id": CONVERSATION,
      "content-type": "application/json",
    });
    expect(authorization).toMatch(/^bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const jwt = await verifyJwt(authorization!.slice("bearer ".length), s.publicKey, "ES256");
    expect(jwt?.header).toEqual({ alg: "ES256", kid: "ABC123DEFG" });
    expect(jwt?.claims).toEqual({ iss: "DEF123GHIJ", iat: T0_SECONDS });
    expect(req.text).toBe(
      JSON.stringify({
        aps: { alert: { title: "Deal room", body: "Lunch at 12? 🍕" }, badge: 3, sound: "default", "thread-id": CONVERSATION },
        conversationId: CONVERSATION,
        seq: 42,
      }),
    );
  });

  it("reuses one provider token for 50 minutes, then signs a new one", async () => {
    const s = await setup(() => new Response(null, { status: 200 }));
    await s.provider.send(target, NOTIFICATION);
    s.clock.now = T0 + 49 * 60_000;
    await s.provider.send(target, NOTIFICATION);
    s.clock.now = T0 + 51 * 60_000;
    await s.provider.send(target, NOTIFICATION);
    const [a, b, c] = s.mock.requests.map((r) => r.headers["authorization"]);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(decodeJwt(c!.slice(7)).iat).toBe(T0_SECONDS + 51 * 60);
  });

  it("uses the sandbox host when APNS_ENVIRONMENT=sandbox and hashes an over-long collapse id", async () => {
    const s = await setup(() => new Response(null, { status: 200 }), { APNS_ENVIRONMENT: "sandbox" });
    await s.provider.send(target, { ...NOTIFICATION, conversationId: "c".repeat(100) });
    expect(s.mock.requests[0]!.url).toBe(`https://api.sandbox.push.apple.com/3/device/${DEVICE}`);
    expect(utf8(s.mock.requests[0]!.headers["apns-collapse-id"] ?? "").length).toBeLessThanOrEqual(64);
  });

  it("maps APNs answers to outcomes", async () => {
    const any = expect.any(String) as string;
    const reason = (r: string, status: number, headers: Record<string, string> = {}) => () => json(status, { reason: r }, headers);
    const cases: Array<[() => Response, PushOutcome]> = [
      [() => json(410, { reason: "Unregistered", timestamp: T0 }), { kind: "gone", status: 410, reason: expect.stringMatching(/Unregistered/) as string }],
      [reason("BadDeviceToken", 400), { kind: "gone", status: 400, reason: any }],
      [reason("DeviceTokenNotForTopic", 400), { kind: "gone", status: 400, reason: any }],
      [reason("BadTopic", 400), { kind: "failed", status: 400, reason: any }],
      [reason("TooManyRequests", 429, { "retry-after": "120" }), { kind: "retry", status: 429, retryAfterSeconds: 120, reason: any }],
      [reason("TooManyProviderTokenUpdates", 429), { kind: "retry", status: 429, reason: any }],
      [reason("InternalServerError", 500), { kind: "retry", status: 500, reason: any }],
      [reason("ServiceUnavailable", 503), { kind: "retry", status: 503, reason: any }],
      [reason("InvalidProviderToken", 403), { kind: "failed", status: 403, reason: any }],
      [reason("PayloadTooLarge", 413), { kind: "failed", status: 413, reason: any }],
    ];
    for (const [respond, outcome] of cases) {
      clearApnsTokenCache();
      const s = await setup(respond);
      expect(await s.provider.send(target, NOTIFICATION)).toEqual(outcome);
    }
  });

  it("after ExpiredProviderToken re-signs, but never within 20 minutes of the last token", async () => {
    const s = await setup(() => json(403, { reason: "ExpiredProviderToken" }));
    await s.provider.send(target, NOTIFICATION);
    s.clock.now = T0 + 10 * 60_000;
    await s.provider.send(target, NOTIFICATION);
    s.clock.now = T0 + 21 * 60_000;
    await s.provider.send(target, NOTIFICATION);
    s.clock.now = T0 + 22 * 60_000;
    await s.provider.send(target, NOTIFICATION);
    const tokens = s.mock.requests.map((r) => r.headers["authorization"]);
    expect(tokens[1]).toBe(tokens[0]);
    expect(tokens[2]).toBe(tokens[0]); // dropped only at this answer (21 min), so the next send re-signs
    expect(tokens[3]).not.toBe(tokens[0]);
  });

  it("retries on network errors and timeouts, and refuses a non-hex token without fetching", async () => {
    const s = await setup(() => new Response(null, { status: 200 }));
    const config = { keyId: "ABC123DEFG", teamId: "DEF123GHIJ", privateKey: s.pem, bundleId: "com.example.switchboard", environment: "production" as const };
    expect(await createApnsProvider(config, deps(failingFetch, s.clock)).send(target, NOTIFICATION)).toEqual({
      kind: "retry",
      reason: expect.stringMatching(/network/),
    });
    expect(await createApnsProvider(config, deps(hangingFetch, s.clock), { timeoutMs: 50 }).send(target, NOTIFICATION)).toEqual({
      kind: "retry",
      reason: "apns: timeout",
    });
    expect(await s.provider.send({ platform: "apns", token: "../../evil" }, NOTIFICATION)).toMatchObject({ kind: "failed" });
    expect(s.mock.requests).toHaveLength(0);
  });

  it("fails (never throws) with an unusable .p8 key", async () => {
    const s = await setup(() => new Response(null, { status: 200 }), { APNS_PRIVATE_KEY: "not a pem" });
    expect(await s.provider.send(target, NOTIFICATION)).toMatchObject({ kind: "failed", reason: expect.stringMatching(/APNS_PRIVATE_KEY/) });
    expect(s.mock.requests).toHaveLength(0);
  });

  it("signs provider tokens that a direct call can reuse", async () => {
    const s = await setup(() => new Response(null, { status: 200 }));
    const config = { keyId: "K", teamId: "T", privateKey: s.pem, bundleId: "b", environment: "production" as const };
    const t1 = await apnsProviderToken(config, T0);
    expect(await apnsProviderToken(config, T0 + 60_000)).toBe(t1);
  });
});

// ---------------------------------------------------------------------------------------------
// Webhook

describe("webhook provider", () => {
  const target: PushTarget = { platform: "webhook", endpoint: "https://push-gateway.acme.io/v1/push" };

  function setup(handler: Handler, environment = "production") {
    const mock = mockFetch(handler);
    const clock = { now: T0 };
    return { mock, clock, provider: createWebhookProvider(deps(mock.fetch, clock), { environment }) };
  }

  it("POSTs exactly the API.md JSON with Content-Type application/json and does not follow redirects", async () => {
    const s = setup(() => new Response(null, { status: 204 }));
    expect(await s.provider.send(target, NOTIFICATION)).toEqual({ kind: "delivered", status: 204 });
    const req = s.mock.requests[0]!;
    expect(req.url).toBe(target.endpoint);
    expect(req.method).toBe("POST");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.redirect).toBe("manual");
    expect(req.signal).toBeInstanceOf(AbortSignal);
    expect(req.text).toBe(
      '{"tenantId":"acme","userId":"u.alice","deviceId":"dev-1","conversationId":"g_0123456789abcdef0123456789abcdef","seq":42,"sender":"u.bob","preview":"Lunch at 12? 🍕","badge":3}',
    );
  });

  it("is wired by createProviders with ENVIRONMENT and needs no secrets", async () => {
    const mock = mockFetch(() => new Response("ok"));
    const dev = createProviders(makeEnv({ ENVIRONMENT: "development" }), deps(mock.fetch, { now: T0 })).webhook;
    expect(await dev.send({ platform: "webhook", endpoint: "http://127.0.0.1:8788/push" }, NOTIFICATION)).toEqual({ kind: "delivered", status: 200 });
    expect(await dev.send(target, NOTIFICATION)).toMatchObject({ kind: "failed" });
    const prod = createProviders(makeEnv({}), deps(mock.fetch, { now: T0 })).webhook;
    expect(await prod.send({ platform: "webhook", endpoint: "http://127.0.0.1:8788/push" }, NOTIFICATION)).toMatchObject({ kind: "failed" });
    expect(await prod.send(target, NOTIFICATION)).toEqual({ kind: "delivered", status: 200 });
    expect(mock.requests.map((r) => r.url)).toEqual(["http://127.0.0.1:8788/push", target.endpoint]);
  });

  it("maps statuses: 2xx delivered, 404/410 gone, 429/5xx retry with Retry-After, other 4xx and 3xx failed", async () => {
    const any = expect.any(String) as string;
    const cases: Array<[Response, PushOutcome]> = [
      [new Response("ok", { status: 200 }), { kind: "delivered", status: 200 }],
      [new Response(null, { status: 202 }), { kind: "delivered", status: 202 }],
      [new Response(null, { status: 404 }), { kind: "gone", status: 404, reason: any }],
      [new Response(null, { status: 410 }), { kind: "gone", status: 410, reason: any }],
      [new Response(null, { status: 429, headers: { "Retry-After": "45" } }), { kind: "retry", status: 429, retryAfterSeconds: 45, reason: any }],
      [
        new Response(null, { status: 503, headers: { "Retry-After": new Date(T0 + 90_000).toUTCString() } }),
        { kind: "retry", status: 503, retryAfterSeconds: 90, reason: any },
      ],
      [new Response(null, { status: 500 }), { kind: "retry", status: 500, reason: any }],
      [new Response(null, { status: 502 }), { kind: "retry", status: 502, reason: any }],
      [new Response(null, { status: 400 }), { kind: "failed", status: 400, reason: any }],
      [new Response(null, { status: 401 }), { kind: "failed", status: 401, reason: any }],
      [new Response(null, { status: 403 }), { kind: "failed", status: 403, reason: any }],
      [new Response(null, { status: 302, headers: { location: "http://169.254.169.254/" } }), { kind: "failed", status: 302, reason: any }],
    ];
    for (const [response, outcome] of cases) {
      const s = setup(() => response);
      expect(await s.provider.send(target, NOTIFICATION)).toEqual(outcome);
    }
  });

  it("turns network errors and timeouts into retry and never throws", async () => {
    const clock = { now: T0 };
    const down = createWebhookProvider(deps(failingFetch, clock), { environment: "production" });
    expect(await down.send(target, NOTIFICATION)).toEqual({ kind: "retry", reason: "network error" });
    const hung = createWebhookProvider(deps(hangingFetch, clock), { environment: "production", timeoutMs: 50 });
    expect(await hung.send(target, NOTIFICATION)).toEqual({ kind: "retry", reason: "timeout" });
    const weird = createWebhookProvider(deps((async () => Promise.reject("boom")) as typeof fetch, clock), { environment: "production" });
    expect(await weird.send(target, NOTIFICATION)).toEqual({ kind: "retry", reason: "network error" });
    const throwingClock = createWebhookProvider(
      {
        fetch: (async () => new Response(null, { status: 429, headers: { "retry-after": "1" } })) as typeof fetch,
        now: () => {
          throw new Error("clock broke");
        },
      },
      { environment: "production" },
    );
    expect(await throwingClock.send(target, NOTIFICATION)).toMatchObject({ kind: "failed" });
  });

  it("refuses a disallowed endpoint or a foreign target without fetching", async () => {
    const s = setup(() => new Response(null, { status: 200 }));
    expect(await s.provider.send({ platform: "webhook", endpoint: "https://10.0.0.1/push" }, NOTIFICATION)).toMatchObject({ kind: "failed" });
    expect(await s.provider.send({ platform: "apns", token: "ab" }, NOTIFICATION)).toMatchObject({ kind: "failed" });
    expect(s.mock.requests).toHaveLength(0);
  });
});

describe("checkOutboundUrl for webhook devices", () => {
  const accepted = (url: string, env: string) => expect(checkOutboundUrl(url, env), `${env} ${url}`).toEqual({ ok: true });
  const refused = (url: string, env: string) =>
    expect(checkOutboundUrl(url, env), `${env} ${url}`).toEqual({ ok: false, reason: expect.any(String) as string });

  it("in development accepts only loopback http(s)", () => {
    for (const url of [
      "http://127.0.0.1:8788/push",
      "https://127.0.0.1/push",
      "http://127.255.1.2/",
      "http://localhost:9000/hook",
      "http://LOCALHOST/",
      "http://[::1]:8080/push",
      "http://2130706433/", // 127.0.0.1 spelt as one number
    ]) {
      accepted(url, "development");
    }
    for (const url of [
      "https://push-gateway.acme.io/v1/push",
      "http://10.0.0.1/",
      "http://192.168.1.10/",
      "http://0.0.0.0:8787/",
      "http://localhost.acme.io/",
      "ftp://127.0.0.1/",
      "file:///etc/passwd",
      "http://user:pass@127.0.0.1/",
      "not a url",
      "",
    ]) {
      refused(url, "development");
    }
  });

  it("elsewhere accepts https to public names and addresses on port 443", () => {
    for (const env of ["production", "staging", ""]) {
      for (const url of [
        "https://push-gateway.acme.io/v1/push",
        "https://push-gateway.acme.io:443/v1/push?x=1",
        "https://api.example.com/hook",
        "https://8.8.8.8/push",
        "https://172.32.0.1/",
        "https://100.128.0.1/",
        "https://11.0.0.1/",
        "https://[2606:4700:4700::1111]/push",
        "https://[::ffff:8.8.8.8]/push",
        "https://xn--bcher-kva.example.de/",
        "https://PUSH.ACME.IO./x",
      ]) {
        accepted(url, env);
      }
    }
  });

  it("elsewhere refuses http, credentials, internal names and private, loopback or reserved addresses", () => {
    for (const url of [
      "http://push-gateway.acme.io/v1/push",
      "https://user:pw@push-gateway.acme.io/",
      "https://user@push-gateway.acme.io/",
      "https://localhost/",
      "https://localhost./",
      "https://api.localhost/",
      "https://printer.local/",
      "https://svc.internal/",
      "https://metadata.google.internal/computeMetadata/v1/",
      "https://router.home.arpa/",
      "https://intranet/",
      "https://127.0.0.1/",
      "https://127.1/",
      "https://0x7f.0.0.1/",
      "https://017700000001/",
      "https://2130706433/",
      "https://0.0.0.0/",
      "https://10.1.2.3/",
      "https://172.16.0.1/",
      "https://172.31.255.255/",
      "https://192.168.1.1/",
      "https://169.254.169.254/latest/meta-data/",
      "https://100.64.0.1/",
      "https://100.127.255.255/",
      "https://192.0.2.1/",
      "https://198.18.0.1/",
      "https://224.0.0.1/",
      "https://239.255.255.250/",
      "https://255.255.255.255/",
      "https://[::1]/",
      "https://[::]/",
      "https://[fc00::1]/",
      "https://[fd12:3456:789a::1]/",
      "https://[fe80::1]/",
      "https://[febf::1]/",
      "https://[ff02::1]/",
      "https://[::ffff:127.0.0.1]/",
      "https://[::ffff:10.0.0.1]/",
      "https://[::ffff:192.168.0.1]/",
      "https://[::ffff:169.254.169.254]/",
      "https://[::127.0.0.1]/",
      "https://[64:ff9b::a00:1]/",
      "https://[2001:db8::1]/",
      "javascript:alert(1)",
      "data:text/plain,hi",
      "https://",
      `https://a.io/${"x".repeat(3000)}`,
    ]) {
      refused(url, "production");
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Factory and shared helpers

describe("createProviders", () => {
  it("answers 'not configured' for every platform whose secrets are missing", async () => {
    const mock = mockFetch(() => new Response(null, { status: 200 }));
    const providers = createProviders(makeEnv({}), deps(mock.fetch, { now: T0 }));
    expect(Object.keys(providers).sort()).toEqual(["apns", "fcm", "webhook", "webpush"]);
    const sub = { endpoint: "https://fcm.googleapis.com/fcm/send/x", keys: { p256dh: A.uaPublic, auth: A.authSecret } };
    expect(await providers.webpush.send({ platform: "webpush", subscription: sub }, NOTIFICATION)).toEqual({ kind: "failed", reason: "webpush is not configured" });
    expect(await providers.fcm.send({ platform: "fcm", token: "t" }, NOTIFICATION)).toEqual({ kind: "failed", reason: "fcm is not configured" });
    expect(await providers.apns.send({ platform: "apns", token: "ab" }, NOTIFICATION)).toEqual({ kind: "failed", reason: "apns is not configured" });
    for (const [platform, provider] of Object.entries(providers)) expect(provider.platform).toBe(platform);
    // Partially configured counts as not configured.
    const partial = createProviders(makeEnv({ VAPID_PUBLIC_KEY: A.uaPublic, APNS_KEY_ID: "K", APNS_TEAM_ID: "T" }), deps(mock.fetch, { now: T0 }));
    expect(await partial.webpush.send({ platform: "webpush", subscription: sub }, NOTIFICATION)).toEqual({ kind: "failed", reason: "webpush is not configured" });
    expect(await partial.apns.send({ platform: "apns", token: "ab" }, NOTIFICATION)).toEqual({ kind: "failed", reason: "apns is not configured" });
    expect(mock.requests).toHaveLength(0);
  });

  it("says what is wrong with present but unusable secrets", async () => {
    const mock = mockFetch(() => new Response(null, { status: 200 }));
    const providers = createProviders(
      makeEnv({
        VAPID_PUBLIC_KEY: "AAAA",
        VAPID_PRIVATE_KEY: A.asPrivate,
        VAPID_SUBJECT: "mailto:ops@acme.io",
        FCM_SERVICE_ACCOUNT: '{"project_id":"p"}',
        APNS_KEY_ID: "K",
        APNS_TEAM_ID: "T",
        APNS_PRIVATE_KEY: "x",
        APNS_BUNDLE_ID: "b",
        APNS_ENVIRONMENT: "staging",
      }),
      deps(mock.fetch, { now: T0 }),
    );
    const sub = { endpoint: "https://fcm.googleapis.com/fcm/send/x", keys: { p256dh: A.uaPublic, auth: A.authSecret } };
    expect(await providers.webpush.send({ platform: "webpush", subscription: sub }, NOTIFICATION)).toEqual({
      kind: "failed",
      reason: expect.stringMatching(/^webpush is misconfigured: VAPID_PUBLIC_KEY/),
    });
    expect(await providers.fcm.send({ platform: "fcm", token: "t" }, NOTIFICATION)).toEqual({
      kind: "failed",
      reason: "fcm is misconfigured: FCM_SERVICE_ACCOUNT lacks client_email",
    });
    expect(await providers.apns.send({ platform: "apns", token: "ab" }, NOTIFICATION)).toEqual({
      kind: "failed",
      reason: expect.stringMatching(/APNS_ENVIRONMENT/),
    });
    const badSubject = createProviders(
      makeEnv({ VAPID_PUBLIC_KEY: A.asPublic, VAPID_PRIVATE_KEY: A.asPrivate, VAPID_SUBJECT: "ops@acme.io" }),
      deps(mock.fetch, { now: T0 }),
    );
    expect(await badSubject.webpush.send({ platform: "webpush", subscription: sub }, NOTIFICATION)).toEqual({
      kind: "failed",
      reason: expect.stringMatching(/VAPID_SUBJECT/),
    });
    expect(mock.requests).toHaveLength(0);
  });

  it("parses Retry-After as seconds or an HTTP date", () => {
    const h = (v: string) => new Headers({ "retry-after": v });
    expect(parseRetryAfter(h("120"), T0)).toBe(120);
    expect(parseRetryAfter(h(new Date(T0 + 30_000).toUTCString()), T0)).toBe(30);
    expect(parseRetryAfter(h(new Date(T0 - 30_000).toUTCString()), T0)).toBe(0);
    expect(parseRetryAfter(h("soon"), T0)).toBeUndefined();
    expect(parseRetryAfter(new Headers(), T0)).toBeUndefined();
  });
});
