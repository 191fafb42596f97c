// Scenario P: device channels, notify frames and pushes. One tenant; many users each holding one device
// channel (`GET /v1/ws`), a few more users who stay offline with a `webhook` push device, and groups of
// online + offline members. Messages go to the groups over a conversation WebSocket; the load generator
// times every `notify` frame on every online member's channel, and a local HTTP receiver (the webhook
// "push gateway") counts every push the queue consumer delivers, per (user, device, conversation, seq).
// Every timestamp is performance.now() of this process, so send and receive times share one clock.
import WebSocket from "ws";
import { createServer } from "node:http";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { Api, pool } from "./api.mjs";
import { Samples } from "./stats.mjs";
import { machineBusySeconds } from "../lib/proc.mjs";
import { closeAll, openReady, withRetries } from "./sockets.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------- the push gateway ----------

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

// ---------- seeding ----------

/**
 * A fresh tenant for scenario P:
 *  - `channels` online users c0…, each of which will hold one device channel;
 *  - `offline` users o0…, each with one `webhook` push device (p-o<j>) and never a channel;
 *  - `pushOnline` of the online users also register a webhook device (p-c<i>): they must get no push;
 *  - `groups` groups created by the tenant key (so `bot` is owner and member), each with `onlinePerGroup`
 *    online users (consecutive slices of c0…, wrapping) plus every offline user.
 */
export async function seedPresence({ base, adminToken, tenantId, channels, offline, groups, onlinePerGroup, pushOnline, receiverPort, concurrency = 12 }) {
  if (onlinePerGroup + offline > 999) throw new Error("a group holds at most 1000 members (the bot included)");
  const operator = new Api(base, adminToken);
  const { apiKey } = await operator.call("POST", "/v1/tenants", { id: tenantId, name: `Bench ${tenantId}` }, { paced: false });
  const api = new Api(base, apiKey);
  const onlineIds = Array.from({ length: channels }, (_, i) => `c${i}`);
  const offlineIds = Array.from({ length: offline }, (_, j) => `o${j}`);
  const all = [...onlineIds, ...offlineIds];
  const tokens = await pool(all, concurrency, async (id) => {
    await api.call("PUT", `/v1/users/${id}`, { name: `Bench user ${id}` });
    return (await api.call("POST", `/v1/users/${id}/tokens`, { ttlSeconds: 6 * 3600 })).token;
  });
  const tokenOf = new Map(all.map((id, i) => [id, tokens[i]]));

  // Push devices: every offline user, and a spread of online users (who must not get any push).
  const step = pushOnline > 0 ? Math.max(1, Math.floor(channels / pushOnline)) : 0;
  const onlineWithPush = pushOnline > 0 ? Array.from({ length: Math.min(pushOnline, channels) }, (_, k) => onlineIds[k * step]) : [];
  const pushUsers = [...offlineIds, ...onlineWithPush];
  await pool(pushUsers, concurrency, async (id) => {
    await api.call(
      "POST",
      "/v1/devices",
      { id: `p-${id}`, platform: "webhook", endpoint: `http://127.0.0.1:${receiverPort}/push/${encodeURIComponent(id)}` },
      { token: tokenOf.get(id) },
    );
  });

  const groupList = await pool(
    Array.from({ length: groups }, (_, g) => g),
    concurrency,
    async (g) => {
      const online = Array.from({ length: Math.min(onlinePerGroup, channels) }, (_, k) => onlineIds[(g * onlinePerGroup + k) % channels]);
      const members = [...online, ...offlineIds];
      const created = await api.call("POST", "/v1/conversations", { type: "group", name: `bench ${tenantId} presence ${g}`, members: members.slice(0, 199) });
      for (let i = 199; i < members.length; i += 200) {
        await api.call("POST", `/v1/conversations/${created.id}/members`, { userIds: members.slice(i, i + 200) });
      }
      return { id: created.id, idx: g, online, offline: offlineIds, sender: online[0] };
    },
  );
  return {
    tenantId,
    api,
    tokenOf,
    onlineIds,
    offlineIds,
    onlineWithPush,
    groups: groupList,
    requests: api.requests + operator.requests,
    throttled: api.throttled,
  };
}

// ---------- the run ----------

/**
 * @param {object} o
 * @param {string} o.base
 * @param {object} o.seeded          from seedPresence
 * @param {object} o.receiver        from startPushReceiver
 * @param {number} o.rate            messages per second per group
 * @param {number} o.duration        seconds of sending
 * @param {number} o.payload         bytes of text per message
 * @param {number} o.drain           seconds after the last send for notify frames to count as on time
 * @param {number} o.late            seconds more before a missing notify frame is counted missing
 * @param {number} o.pushWait        seconds after the last send to wait for every expected push
 * @param {number} o.pushSettle      seconds to keep listening after the last expected push (duplicates)
 * @param {number} o.stormQuiet      seconds without presence frames that end the post-connect presence storm
 *                                   (0: start sending as soon as every channel is ready, in the storm)
 * @param {number} o.stormMax        most seconds to wait for the storm to end
 * @param {number} o.connectConcurrency
 * @param {string} o.tag
 * @param {() => object} o.probe     the server's { part: { rssBytes, cpuSeconds } }
 * @param {() => Promise<void>} [o.waitQuiet]
 * @param {() => Promise<void>} [o.onLoadStart]  e.g. start a CPU profile (after the storm, before the first send)
 * @param {() => Promise<object>} [o.onLoadEnd]   e.g. stop it, once the notify frames are in
 * @param {(line: string) => void} [o.log]
 */
export async function runPresence(o) {
  const log = o.log ?? (() => {});
  const { seeded, receiver } = o;
  const wsBase = o.base.replace(/^http/, "ws");
  const errors = {};
  const countError = (code) => (errors[code] = (errors[code] ?? 0) + 1);
  const groupOf = new Map(seeded.groups.map((g) => [g.id, g]));
  const offlineSet = new Set(seeded.offlineIds);
  const pushDeviceOf = new Map([...seeded.offlineIds, ...seeded.onlineWithPush].map((u) => [u, `p-${u}`]));

  // ---- receive pushes (this run's tenant only) ----
  const pushes = new Map(); // user|device|conv|seq -> { n, at }
  let pushBad = 0;
  let pushForeign = 0;
  let pushTotal = 0;
  let lastPushAt = 0;
  const pushArrivals = []; // arrival times of this tenant's pushes, for the per-second timeline
  const badges = [];
  receiver.sink = (p) => {
    const b = p.body ?? {};
    if (b.tenantId !== seeded.tenantId) {
      pushForeign++;
      return;
    }
    pushTotal++;
    lastPushAt = p.at;
    pushArrivals.push(p.at);
    if (p.method !== "POST" || p.pathUser !== b.userId || pushDeviceOf.get(b.userId) !== b.deviceId || typeof b.seq !== "number" || !groupOf.has(b.conversationId)) {
      pushBad++;
    }
    const key = `${b.userId}|${b.deviceId}|${b.conversationId}|${b.seq}`;
    const e = pushes.get(key);
    if (e) e.n++;
    else pushes.set(key, { n: 1, at: p.at });
    badges.push({ user: b.userId, conv: b.conversationId, seq: b.seq, badge: b.badge });
  };

  // ---- device channels ----
  const notifies = new Map(); // user|conv|seq -> { n, at }
  let notifyFrames = 0;
  let lastNotifyAt = 0;
  let presenceFrames = 0;
  let lastPresenceAt = 0;
  let phase = "connect";
  const presenceByPhase = { connect: 0, load: 0 };
  let unexpectedCloses = 0;
  let connectRetries = 0;
  const channels = seeded.onlineIds.map((userId) => ({ userId, deviceId: `ch-${userId}`, ws: null, ready: false, readyMs: 0, closing: false }));

  const onChannelFrame = (ch, data) => {
    const now = performance.now();
    const frame = JSON.parse(data);
    switch (frame.type) {
      case "notify": {
        notifyFrames++;
        lastNotifyAt = now;
        const key = `${ch.userId}|${frame.conversationId}|${frame.seq}`;
        const e = notifies.get(key);
        if (e) e.n++;
        else notifies.set(key, { n: 1, at: now, sender: frame.sender, muted: frame.muted });
        return;
      }
      case "presence":
        presenceFrames++;
        presenceByPhase[phase]++;
        lastPresenceAt = now;
        return;
      case "error":
        countError(`channel_${frame.code ?? "error"}`);
        return;
      case "ready":
        countError("second_ready");
        return;
      default:
        return; // pong
    }
  };

  const openChannel = (ch) =>
    openReady(ch, `${wsBase}/v1/ws?token=${encodeURIComponent(seeded.tokenOf.get(ch.userId))}&device=${encodeURIComponent(ch.deviceId)}`, {
      onReady: (frame) => {
        if (frame.userId !== ch.userId || frame.deviceId !== ch.deviceId) countError("ready_mismatch");
      },
      onFrame: (data) => onChannelFrame(ch, data),
      onClose: (code) => {
        if (ch.closing) return;
        unexpectedCloses++;
        countError(`channel_closed_${code}`);
      },
    });
  const connectChannel = (ch) => withRetries(() => openChannel(ch), `device channel of ${ch.userId}`, () => connectRetries++);

  await o.waitQuiet?.();
  const mem0 = o.probe();
  const cpuC0 = o.probe();
  const busyC0 = machineBusySeconds();
  const genC0 = process.cpuUsage();
  const connectStart = performance.now();
  await pool(channels, o.connectConcurrency, connectChannel);
  const connectMs = performance.now() - connectStart;
  const readyLat = new Samples();
  for (const ch of channels) readyLat.push(ch.readyMs);
  log(`  ${channels.length} device channels ready in ${(connectMs / 1000).toFixed(2)} s`);

  // ---- the presence storm: everyone who came online is announced to everyone they share a conversation with ----
  const stormStart = performance.now();
  while (o.stormQuiet > 0) {
    await sleep(100);
    const now = performance.now();
    const quietFor = now - Math.max(lastPresenceAt, connectStart + connectMs);
    if (quietFor >= o.stormQuiet * 1000) break;
    if (now - stormStart >= o.stormMax * 1000) {
      countError("presence_storm_not_settled");
      break;
    }
  }
  const storm = {
    frames: presenceFrames,
    lastFrameAfterConnectStartMs: lastPresenceAt ? lastPresenceAt - connectStart : null,
    waitedSeconds: (performance.now() - stormStart) / 1000,
    serverCpuSeconds: null,
  };
  {
    const c1 = o.probe();
    storm.serverCpuSeconds = c1.server?.cpuSeconds !== undefined && cpuC0.server?.cpuSeconds !== undefined ? c1.server.cpuSeconds - cpuC0.server.cpuSeconds : null;
    const genC = process.cpuUsage(genC0);
    storm.loadgenCpuSeconds = (genC.user + genC.system) / 1e6;
    storm.machineBusySeconds = machineBusySeconds() - busyC0;
  }
  log(
    `  presence storm${o.stormQuiet > 0 ? "" : " (not waited for: sending starts now)"}: ${storm.frames} presence frames, the last ${fmtS(storm.lastFrameAfterConnectStartMs)} after the first connect` +
      (storm.serverCpuSeconds !== null ? `; runtime CPU from connect to quiet ${storm.serverCpuSeconds.toFixed(1)} s` : ""),
  );
  phase = "load";

  // ---- one sender socket per group (a conversation WebSocket of the group's first online member) ----
  const pending = new Map(); // clientId -> message
  const sentList = [];
  const bySeq = new Map(); // conv|seq -> message
  let lastAckAt = 0;
  const senders = await Promise.all(
    seeded.groups.map(
      (g) =>
        new Promise((resolve, reject) => {
          const url = `${wsBase}/v1/conversations/${g.id}/ws?token=${encodeURIComponent(seeded.tokenOf.get(g.sender))}&after=0&device=send-${g.idx}`;
          const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 30_000 });
          const s = { g, ws, ready: false, closing: false };
          ws.on("error", (err) => (s.ready ? countError("sender_socket_error") : reject(err)));
          ws.on("unexpected-response", (_req, res) => reject(new Error(`sender socket of ${g.id}: HTTP ${res.statusCode}`)));
          ws.on("close", () => {
            if (s.ready && !s.closing) countError("sender_socket_closed");
          });
          ws.on("message", (data) => {
            const now = performance.now();
            const frame = JSON.parse(data);
            if (frame.type === "ready") {
              s.ready = true;
              return resolve(s);
            }
            if (frame.type === "ack") {
              const m = pending.get(frame.clientId);
              if (!m) return countError("unexpected_ack");
              pending.delete(frame.clientId);
              m.seq = frame.seq;
              m.ackAt = now;
              lastAckAt = now;
              bySeq.set(`${g.id}|${frame.seq}`, m);
            } else if (frame.type === "error") {
              countError(`send_${frame.code ?? "error"}`);
              if (frame.clientId !== undefined) pending.delete(frame.clientId);
            }
          });
        }),
    ),
  );

  // ---- send: `rate` messages per second per group, groups staggered evenly ----
  await sleep(300);
  const memConnected = o.probe();
  await o.onLoadStart?.();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  const cpu0 = o.probe();
  const gen0 = process.cpuUsage();
  const busy0 = machineBusySeconds();
  loop.enable();
  const text = "p".repeat(o.payload);
  const interval = 1000 / o.rate;
  const t0 = performance.now();
  const tEnd = t0 + o.duration * 1000;
  const plan = senders.map((s, j) => ({ s, k: 0, next: t0 + (j / senders.length) * interval }));
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      for (const p of plan) {
        while (p.next <= now && p.next < tEnd) {
          const clientId = `${o.tag}.${p.s.g.idx}.${p.k++}`;
          const m = { clientId, group: p.s.g, sentAt: performance.now(), seq: null, ackAt: null };
          pending.set(clientId, m);
          sentList.push(m);
          p.s.ws.send(`{"type":"send","clientId":"${clientId}","kind":"text","body":{"text":"${text}"}}`);
          p.next += interval;
        }
      }
      if (now >= tEnd) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const loadEnd = performance.now();

  // ---- expected notify frames and pushes, once every send is acked ----
  const drainDeadline = loadEnd + o.drain * 1000;
  const lateDeadline = drainDeadline + o.late * 1000;
  while (pending.size > 0 && performance.now() < lateDeadline) await sleep(5);
  const unacked = pending.size;
  if (unacked) errors.no_ack = unacked;
  const acked = sentList.filter((m) => m.seq !== null);
  const expectedNotify = [];
  const expectedPush = [];
  for (const m of acked) {
    for (const u of m.group.online) if (u !== m.group.sender) expectedNotify.push({ key: `${u}|${m.group.id}|${m.seq}`, m });
    for (const u of m.group.offline) if (u !== m.group.sender) expectedPush.push({ key: `${u}|p-${u}|${m.group.id}|${m.seq}`, m, user: u });
  }
  const notifiesIn = () => expectedNotify.every((e) => notifies.has(e.key));
  let notifyAtDrain = null;
  while (performance.now() < lateDeadline) {
    if (notifyAtDrain === null && performance.now() >= drainDeadline) notifyAtDrain = notifyFrames;
    if (notifiesIn()) break;
    await sleep(10);
  }
  const notifyDrainedAt = performance.now();
  loop.disable();
  const genCpu = process.cpuUsage(gen0);
  const cpu1 = o.probe();
  const busy1 = machineBusySeconds();
  const loadCpuWall = (notifyDrainedAt - t0) / 1000;
  const profile = await o.onLoadEnd?.();

  // Pushes travel through the queue (batches of 50, or 1 s locally): seconds, not milliseconds.
  const pushDeadline = loadEnd + o.pushWait * 1000;
  let pushesComplete = false;
  // Done when every expected push is in; or, when bursts may have been coalesced into one push, once the
  // newest message of every group has reached every offline device and nothing more came for 3 s.
  const newestOfGroup = new Map();
  for (const m of acked) if (m.seq > (newestOfGroup.get(m.group) ?? 0)) newestOfGroup.set(m.group, m.seq);
  const newestKeys = expectedPush.filter((e) => e.m.seq === newestOfGroup.get(e.m.group)).map((e) => e.key);
  while (performance.now() < pushDeadline) {
    if (expectedPush.every((e) => pushes.has(e.key))) {
      pushesComplete = true;
      break;
    }
    if (newestKeys.every((k) => pushes.has(k)) && performance.now() - lastPushAt > 3_000) break;
    await sleep(50);
  }
  const pushesInAt = performance.now();
  // Keep listening a little: a duplicate would come after the original.
  await sleep(o.pushSettle * 1000);
  const mem1 = o.probe();
  receiver.sink = null;

  // ---- close ----
  await closeAll([...channels, ...senders]);

  // ---- verdict: notify frames ----
  const notifyLat = new Samples();
  const lastRecipient = new Map(); // message -> latest notify latency
  let notifyMissing = 0;
  let notifyDup = 0;
  let notifyWrongSender = 0;
  const expectedKeys = new Set();
  for (const e of expectedNotify) {
    expectedKeys.add(e.key);
    const got = notifies.get(e.key);
    if (!got) {
      notifyMissing++;
      continue;
    }
    if (got.n > 1) notifyDup += got.n - 1;
    if (got.sender !== e.m.group.sender || got.muted !== false) notifyWrongSender++;
    const ms = got.at - e.m.sentAt;
    notifyLat.push(ms);
    if (!(lastRecipient.get(e.m) >= ms)) lastRecipient.set(e.m, ms);
  }
  // Frames nobody should have got: the sender's own, another group's, or for a seq this run did not send.
  let notifyUnexpected = 0;
  let notifyToSender = 0;
  for (const [key, got] of notifies) {
    if (expectedKeys.has(key)) continue;
    const [user, conv, seq] = key.split("|");
    const m = bySeq.get(`${conv}|${seq}`);
    if (m && m.group.sender === user) notifyToSender += got.n;
    else notifyUnexpected += got.n;
  }
  const fanout = new Samples();
  for (const ms of lastRecipient.values()) fanout.push(ms);

  // ---- verdict: pushes ----
  const pushLat = new Samples();
  let pushMissing = 0;
  let pushMissingCovered = 0; // missing, but a later seq of the same conversation reached that device (a coalesced hand-over?)
  let pushDup = 0;
  const pushExpectedKeys = new Set();
  const newestPushed = new Map(); // user|conv -> highest seq pushed
  for (const [key] of pushes) {
    const [user, , conv, seq] = key.split("|");
    const k = `${user}|${conv}`;
    newestPushed.set(k, Math.max(newestPushed.get(k) ?? 0, Number(seq)));
  }
  for (const e of expectedPush) {
    pushExpectedKeys.add(e.key);
    const got = pushes.get(e.key);
    if (!got) {
      pushMissing++;
      if ((newestPushed.get(`${e.user}|${e.m.group.id}`) ?? 0) > e.m.seq) pushMissingCovered++;
      continue;
    }
    if (got.n > 1) pushDup += got.n - 1;
    pushLat.push(got.at - e.m.sentAt);
  }
  let pushToOnline = 0;
  let pushUnexpected = 0;
  for (const [key, got] of pushes) {
    if (pushExpectedKeys.has(key)) continue;
    const user = key.split("|")[0];
    if (!offlineSet.has(user)) pushToOnline += got.n;
    else pushUnexpected += got.n;
  }

  // Per second of the run: messages sent, pushes they should cause, pushes that arrived.
  const timeline = [];
  const slot = (t) => Math.max(0, Math.floor((t - t0) / 1000));
  const at = (i) => (timeline[i] ??= { second: i, sent: 0, pushesDue: 0, pushesArrived: 0 });
  for (const m of sentList) at(slot(m.sentAt)).sent++;
  for (const e of expectedPush) at(slot(e.m.sentAt)).pushesDue++;
  for (const t of pushArrivals) at(slot(t)).pushesArrived++;
  for (let i = 0; i < timeline.length; i++) at(i);

  const ackLat = new Samples();
  for (const m of acked) ackLat.push(m.ackAt - m.sentAt);
  const wall = (loadEnd - t0) / 1000;
  return {
    sockets: channels.length,
    channels: channels.length,
    groups: seeded.groups.length,
    membersPerGroup: (seeded.groups[0]?.online.length ?? 0) + (seeded.groups[0]?.offline.length ?? 0),
    onlinePerGroup: seeded.groups[0]?.online.length ?? 0,
    offlineUsers: seeded.offlineIds.length,
    onlineWithPush: seeded.onlineWithPush.length,
    connect: {
      seconds: connectMs / 1000,
      socketsPerSecond: channels.length / (connectMs / 1000),
      readyLatencyMs: readyLat.summary(),
      retries: connectRetries,
    },
    storm,
    load: {
      seconds: wall,
      sent: sentList.length,
      acked: acked.length,
      unacked,
      sentPerSecond: sentList.length / wall,
      ackLatencyMs: ackLat.summary(),
      lastAckAfterLoadMs: lastAckAt ? lastAckAt - loadEnd : null,
    },
    notify: {
      expected: expectedNotify.length,
      frames: notifyFrames,
      framesPerSecond: notifyFrames / Math.max(wall, ((lastNotifyAt || loadEnd) - t0) / 1000),
      latencyMs: notifyLat.summary(),
      lastRecipientMs: fanout.summary(),
      missing: notifyMissing,
      duplicated: notifyDup,
      late: notifyAtDrain === null ? 0 : notifyFrames - notifyAtDrain,
      toSender: notifyToSender,
      unexpected: notifyUnexpected,
      wrongFields: notifyWrongSender,
      drainSeconds: (notifyDrainedAt - loadEnd) / 1000,
    },
    push: {
      expected: expectedPush.length,
      received: pushTotal,
      complete: pushesComplete,
      latencyMs: pushLat.summary(),
      lastArrivalAfterLoadMs: lastPushAt ? lastPushAt - loadEnd : null,
      allInAfterLoadMs: pushesComplete ? pushesInAt - loadEnd : null,
      missing: pushMissing,
      missingButLaterSeqPushed: pushMissingCovered,
      duplicated: pushDup,
      toOnlineDevices: pushToOnline,
      unexpected: pushUnexpected,
      malformed: pushBad,
      otherTenants: pushForeign,
      badgeSamples: badges.slice(0, 5),
      timeline,
    },
    presenceFramesDuringLoad: presenceByPhase.load,
    unexpectedCloses,
    errors,
    errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
    cpu: {
      ...Object.fromEntries(Object.keys(cpu1).map((p) => [`${p}Percent`, (100 * (cpu1[p].cpuSeconds - cpu0[p].cpuSeconds)) / loadCpuWall])),
      loadgenPercent: (100 * ((genCpu.user + genCpu.system) / 1e6)) / loadCpuWall,
      otherPercent:
        (100 * (busy1 - busy0 - (genCpu.user + genCpu.system) / 1e6 - Object.keys(cpu1).reduce((a, p) => a + cpu1[p].cpuSeconds - cpu0[p].cpuSeconds, 0))) / loadCpuWall,
      loadgenLoopDelayP99Ms: loop.count ? loop.percentile(99) / 1e6 : null,
    },
    // Resident memory before the channels connect, once they are connected (after the presence storm), at the end.
    ...(profile ? { profile } : {}),
    memory: Object.fromEntries(
      Object.keys(mem1).map((p) => [p, { beforeBytes: mem0[p]?.rssBytes ?? null, connectedBytes: memConnected[p]?.rssBytes ?? null, afterBytes: mem1[p]?.rssBytes ?? null }]),
    ),
  };
}

function fmtS(ms) {
  return ms === null || ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`;
}
