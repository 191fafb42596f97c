// Scenario P: device channels, notify frames and pushes. One tenant; many users each holding one device
// channel (`GET /v1/ws`), a few more users who stay offline with a `webhook` push device, and groups of
// online + offline members. Messages go to the groups over a conversation WebSocket; the load generator
// times every `notify` frame on every online member's channel, and a local HTTP receiver (the webhook
// "push gateway", push-gateway.mjs) counts every push the queue consumer delivers, per (user, device,
// conversation, seq). Every timestamp is performance.now() of this process, so send and receive times share
// one clock. Seeding is in presence-seed.mjs, the verdict in presence-verdict.mjs.
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { pool } from "./api.mjs";
import { Samples } from "./stats.mjs";
import { machineBusySeconds } from "../lib/proc.mjs";
import { closeAll, openReady, withRetries } from "./sockets.mjs";
import { collectPushes } from "./push-gateway.mjs";
import { openSenders } from "./presence-senders.mjs";
import { expectations, judgeNotifies, judgePushes, pushTimeline } from "./presence-verdict.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
  const offlineSet = new Set(seeded.offlineIds);

  // ---- receive pushes (this run's tenant only) ----
  const got = collectPushes(receiver, seeded);

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
  const acks = { pending: new Map(), bySeq: new Map(), lastAt: 0 }; // pending: clientId -> message; bySeq: conv|seq -> message
  const sentList = [];
  const senders = await openSenders(wsBase, seeded, acks, countError);

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
          acks.pending.set(clientId, m);
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
  while (acks.pending.size > 0 && performance.now() < lateDeadline) await sleep(5);
  const unacked = acks.pending.size;
  if (unacked) errors.no_ack = unacked;
  const acked = sentList.filter((m) => m.seq !== null);
  const { expectedNotify, expectedPush } = expectations(acked);
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
    if (expectedPush.every((e) => got.pushes.has(e.key))) {
      pushesComplete = true;
      break;
    }
    if (newestKeys.every((k) => got.pushes.has(k)) && performance.now() - got.lastAt > 3_000) break;
    await sleep(50);
  }
  const pushesInAt = performance.now();
  // Keep listening a little: a duplicate would come after the original.
  await sleep(o.pushSettle * 1000);
  const mem1 = o.probe();
  receiver.sink = null;

  // ---- close ----
  await closeAll([...channels, ...senders]);

  // ---- verdict ----
  const notified = judgeNotifies(expectedNotify, notifies, acks.bySeq);
  const pushed = judgePushes(expectedPush, got.pushes, offlineSet);
  const timeline = pushTimeline(t0, sentList, expectedPush, got.arrivals);

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
      lastAckAfterLoadMs: acks.lastAt ? acks.lastAt - loadEnd : null,
    },
    notify: {
      expected: expectedNotify.length,
      frames: notifyFrames,
      framesPerSecond: notifyFrames / Math.max(wall, ((lastNotifyAt || loadEnd) - t0) / 1000),
      latencyMs: notified.latency.summary(),
      lastRecipientMs: notified.fanout.summary(),
      missing: notified.missing,
      duplicated: notified.duplicated,
      late: notifyAtDrain === null ? 0 : notifyFrames - notifyAtDrain,
      toSender: notified.toSender,
      unexpected: notified.unexpected,
      wrongFields: notified.wrongFields,
      drainSeconds: (notifyDrainedAt - loadEnd) / 1000,
    },
    push: {
      expected: expectedPush.length,
      received: got.total,
      complete: pushesComplete,
      latencyMs: pushed.latency.summary(),
      lastArrivalAfterLoadMs: got.lastAt ? got.lastAt - loadEnd : null,
      allInAfterLoadMs: pushesComplete ? pushesInAt - loadEnd : null,
      missing: pushed.missing,
      missingButLaterSeqPushed: pushed.missingCovered,
      duplicated: pushed.duplicated,
      toOnlineDevices: pushed.toOnline,
      unexpected: pushed.unexpected,
      malformed: got.bad,
      otherTenants: got.foreign,
      badgeSamples: got.badges.slice(0, 5),
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
