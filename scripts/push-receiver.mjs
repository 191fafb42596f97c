#!/usr/bin/env node
// A local stand-in for the three services Switchboard delivers to, so each can be watched end to end:
//   POST /push           an in-house push gateway (device platform `webhook`)
//   GET  /subscription   a Web Push subscription on this receiver, as a browser's PushManager would give;
//   POST /webpush/:id    the push service behind it: checks the VAPID token, decrypts (RFC 8291) with
//                        the subscription's private keys and answers 201 like a real push service
//   PUT  /events/secret  the whsec_ secret of an outbound endpoint (as your CRM would store it);
//   POST /events         outbound CRM events: checks the Standard Webhooks signature
//   GET  /wait?for=TEXT  the first line received that contains TEXT (every TEXT, when repeated), waiting
//                        for it (at most 30 s, then 504)
// Every delivery is printed as one line. Usage: npm run push-receiver   (127.0.0.1:8788; PUSH_RECEIVER_PORT
// overrides it, 0 picks a free port; the address is printed either way)
import { createServer } from "node:http";
import { createECDH, createHmac, createPublicKey, randomBytes, timingSafeEqual, verify } from "node:crypto";
import { decryptAes128gcm } from "./push-decrypt.mjs";

const port = Number(process.env.PUSH_RECEIVER_PORT ?? 8788);
const WAIT_MS = 30_000;

/** Lines received so far, and the /wait requests still waiting for one. */
const lines = [];
const waiters = new Set();
/** Subscriptions this receiver issued: id -> the browser side's keys. */
const subscriptions = new Map();
let eventSecret;
let origin;

const matches = (line, texts) => texts.every((t) => line.includes(t));

function record(line) {
  lines.push(line);
  console.log(`${new Date().toISOString()} ${line}`);
  for (const w of waiters) {
    if (matches(line, w.texts)) {
      waiters.delete(w);
      w.resolve(line);
    }
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res, status, body, type = "text/plain; charset=utf-8") {
  res.writeHead(status, { "content-type": type }).end(body === undefined ? undefined : typeof body === "string" ? `${body}\n` : body);
}

// ---- the in-house push gateway -------------------------------------------------------------

function onGatewayPush(body) {
  try {
    const p = JSON.parse(body.toString("utf8"));
    record(`push -> ${p.userId}/${p.deviceId}: [${p.conversationId} #${p.seq}] ${p.sender}: ${p.preview} (badge ${p.badge})`);
  } catch {
    record(`push -> (not JSON) ${body.toString("utf8").slice(0, 200)}`);
  }
}

// ---- the Web Push service ------------------------------------------------------------------

function newSubscription() {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const id = randomBytes(8).toString("hex");
  const auth = randomBytes(16);
  subscriptions.set(id, { ecdh, auth });
  return { endpoint: `${origin}/webpush/${id}`, keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") } };
}

/** RFC 8292: `vapid t=<ES256 JWT>, k=<P-256 public key>`; the JWT is signed by k, for this origin, not expired. */
function checkVapid(header) {
  const m = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+),\s*k=([\w-]+)$/.exec(header ?? "");
  if (!m) return { ok: false, reason: "no vapid Authorization header" };
  const [, jwt, k] = m;
  const point = Buffer.from(k, "base64url");
  if (point.length !== 65 || point[0] !== 4) return { ok: false, reason: "k is not a P-256 point" };
  const key = createPublicKey({
    key: { kty: "EC", crv: "P-256", x: point.subarray(1, 33).toString("base64url"), y: point.subarray(33).toString("base64url") },
    format: "jwk",
  });
  const [h, c, s] = jwt.split(".");
  if (!verify("sha256", Buffer.from(`${h}.${c}`), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(s, "base64url"))) {
    return { ok: false, reason: "JWT signature does not verify with k" };
  }
  const claims = JSON.parse(Buffer.from(c, "base64url").toString("utf8"));
  if (claims.aud !== origin) return { ok: false, reason: `aud ${claims.aud} is not ${origin}` };
  if (!(claims.exp > Date.now() / 1000)) return { ok: false, reason: "expired" };
  return { ok: true, k, sub: claims.sub };
}

function onWebPush(req, res, id, body) {
  const sub = subscriptions.get(id);
  if (!sub) return send(res, 410, "unknown subscription"); // what a push service says for a gone one
  const vapid = checkVapid(req.headers.authorization);
  if (!vapid.ok) {
    record(`webpush -> ${id}: refused, VAPID: ${vapid.reason}`);
    return send(res, 403, vapid.reason);
  }
  if (req.headers["content-encoding"] !== "aes128gcm") return send(res, 415, "Content-Encoding must be aes128gcm");
  let plaintext;
  try {
    plaintext = decryptAes128gcm(body, sub.ecdh, sub.auth).toString("utf8");
  } catch (err) {
    record(`webpush -> ${id}: cannot decrypt: ${err.message}`);
    return send(res, 400, "cannot decrypt");
  }
  record(`webpush -> ${id}: VAPID ok (k=${vapid.k.slice(0, 12)}…, sub ${vapid.sub}), TTL ${req.headers.ttl}, decrypted: ${plaintext}`);
  send(res, 201);
}

// ---- the CRM's outbound event endpoint ------------------------------------------------------

/** Standard Webhooks: `v1,<base64 HMAC-SHA256(id.timestamp.body)>`, keyed by the base64 part of whsec_. */
function checkSignature(headers, body) {
  if (!eventSecret) return "unchecked (PUT the whsec_ secret to /events/secret)";
  const key = Buffer.from(eventSecret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${headers["webhook-id"]}.${headers["webhook-timestamp"]}.`).update(body).digest();
  const given = String(headers["webhook-signature"] ?? "").split(" ").map((s) => s.replace(/^v1,/, ""));
  const ok = given.some((g) => {
    const b = Buffer.from(g, "base64");
    return b.length === expected.length && timingSafeEqual(b, expected);
  });
  return ok ? "signature ok" : "BAD SIGNATURE";
}

function onEvent(req, body) {
  const verdict = checkSignature(req.headers, body);
  let summary = body.toString("utf8");
  try {
    const e = JSON.parse(summary);
    const m = e.data?.message;
    summary = m ? `${e.type}: [${m.conversationId} #${m.seq}] ${m.sender}: ${m.body?.text ?? m.kind}` : `${e.type}: ${JSON.stringify(e.data).slice(0, 300)}`;
  } catch {
    // not JSON: printed as it came
  }
  record(`event (webhook-id ${req.headers["webhook-id"]}) ${verdict}: ${summary}`);
}

// ---- waiting for a line ----------------------------------------------------------------------

/** Answer with the first line containing every `for` text, now or when it arrives (504 after WAIT_MS). */
function onWait(res, texts) {
  if (texts.length === 0 || texts.some((t) => t === "")) return send(res, 400, "give ?for=TEXT (repeat it: a line containing all of them)");
  const found = lines.find((l) => matches(l, texts));
  if (found) return send(res, 200, found);
  const waiter = { texts, resolve: (line) => { clearTimeout(timer); send(res, 200, line); } };
  const timer = setTimeout(() => {
    waiters.delete(waiter);
    send(res, 504, `nothing containing ${texts.map((t) => `"${t}"`).join(" and ")} arrived within ${WAIT_MS / 1000} s`);
  }, WAIT_MS);
  waiters.add(waiter);
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url ?? "/", origin);
    const body = await readBody(req);
    if (req.method === "POST" && url.pathname === "/push") {
      onGatewayPush(body);
      return send(res, 204);
    }
    if (req.method === "GET" && url.pathname === "/subscription") return send(res, 200, JSON.stringify(newSubscription()), "application/json");
    const wp = /^\/webpush\/([0-9a-f]{16})$/.exec(url.pathname);
    if (req.method === "POST" && wp) return onWebPush(req, res, wp[1], body);
    if (req.method === "PUT" && url.pathname === "/events/secret") {
      eventSecret = body.toString("utf8").trim();
      return send(res, 204);
    }
    if (req.method === "POST" && url.pathname === "/events") {
      onEvent(req, body);
      return send(res, 204);
    }
    if (req.method === "GET" && url.pathname === "/wait") return onWait(res, url.searchParams.getAll("for"));
    send(res, 404, "not found");
  } catch (err) {
    send(res, 500, err.message);
  }
});
server.listen(port, "127.0.0.1", () => {
  origin = `http://127.0.0.1:${server.address().port}`;
  console.log(`push receiver listening on ${origin} (gateway ${origin}/push, Web Push ${origin}/subscription, CRM events ${origin}/events)`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
