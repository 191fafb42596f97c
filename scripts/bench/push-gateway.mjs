// The webhook "push gateway" of scenario P: a local HTTP receiver that the queue consumer delivers pushes to,
// and the record of one run's pushes as they arrive. Arrival times are performance.now() of this process.
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";

/**
 * A webhook push gateway on a free loopback port. Every POST to /push/<user> is handed to `sink` (set per
 * run) with its arrival time; it always answers 204 at once, so the consumer never has a reason to retry.
 */
export async function startPushReceiver() {
  const receiver = {
    port: 0,
    sink: null,
    /** POSTs that arrived while no run was listening, or that were not a push body. */
    stray: 0,
    malformed: 0,
  };
  const server = createServer({ keepAlive: true }, (req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const at = performance.now();
      res.writeHead(204).end();
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        receiver.malformed++;
        return;
      }
      const m = /^\/push\/([^/?]+)/.exec(req.url ?? "");
      const push = { at, method: req.method, pathUser: m ? decodeURIComponent(m[1]) : null, body };
      if (receiver.sink) receiver.sink(push);
      else receiver.stray++;
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  receiver.port = server.address().port;
  receiver.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    });
  return receiver;
}

/**
 * Record the pushes of one run (its tenant's only; others are just counted) as they reach `receiver`: per
 * user|device|conv|seq how many came and when the first did, the arrival times, and the first badges. A push
 * that is not a POST to its user's path for that user's webhook device, a number seq and a seeded group is
 * counted malformed (and recorded all the same).
 */
export function collectPushes(receiver, seeded) {
  const groupIds = new Set(seeded.groups.map((g) => g.id));
  const pushDeviceOf = new Map([...seeded.offlineIds, ...seeded.onlineWithPush].map((u) => [u, `p-${u}`]));
  const got = {
    pushes: new Map(), // user|device|conv|seq -> { n, at }
    bad: 0,
    foreign: 0,
    total: 0,
    lastAt: 0,
    arrivals: [], // arrival times of this tenant's pushes, for the per-second timeline
    badges: [],
  };
  receiver.sink = (p) => {
    const b = p.body ?? {};
    if (b.tenantId !== seeded.tenantId) {
      got.foreign++;
      return;
    }
    got.total++;
    got.lastAt = p.at;
    got.arrivals.push(p.at);
    if (p.method !== "POST" || p.pathUser !== b.userId || pushDeviceOf.get(b.userId) !== b.deviceId || typeof b.seq !== "number" || !groupIds.has(b.conversationId)) {
      got.bad++;
    }
    const key = `${b.userId}|${b.deviceId}|${b.conversationId}|${b.seq}`;
    const e = got.pushes.get(key);
    if (e) e.n++;
    else got.pushes.set(key, { n: 1, at: p.at });
    got.badges.push({ user: b.userId, conv: b.conversationId, seq: b.seq, badge: b.badge });
  };
  return got;
}
