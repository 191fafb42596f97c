// The load generator: opens the sockets of a workload, sends (closed-loop or at a fixed rate), and checks and
// times every frame that comes back. One process, one event loop, the `ws` client; every timestamp is
// performance.now() of this process, so sender and receiver clocks are the same clock.
import os from "node:os";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { Samples } from "./stats.mjs";
import { pool } from "./api.mjs";
import { machineBusySeconds } from "../lib/proc.mjs";
import { closeAll, openReady, withRetries } from "./sockets.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @param {object} o
 * @param {{ id: string, urls: string[] }[]} o.rooms  the socket urls of every room (ready to connect)
 * @param {"closed"|"rate"|"none"} o.mode
 * @param {number} o.rate        messages per second per room (mode "rate")
 * @param {number} o.senders     sending streams per room
 * @param {boolean} o.rotate     closed-loop: each stream sends from the room's sockets in turn (one in flight)
 * @param {number} o.payload     bytes of text per message
 * @param {string} [o.marker]    a word every message text starts with (so search can find this run's messages)
 * @param {number} o.duration    seconds of load
 * @param {number} o.drain       seconds allowed, after the load, for acks and deliveries to arrive on time
 * @param {number} [o.late]      seconds more to wait for late ones before counting them lost
 * @param {number} o.connectConcurrency  handshakes in flight at once
 * @param {string} o.tag         prefix of clientIds
 * @param {() => object} o.probe returns { [part]: { rssBytes, cpuSeconds } } of the server's processes now
 * @param {(info) => Promise<object>} [o.afterLoad] runs once acks are in (the mirror check), beside the drain
 * @param {() => Promise<void>} [o.onLoadStart]  e.g. start a CPU profile
 * @param {() => Promise<object>} [o.onLoadEnd]   e.g. stop it; the result lands in `profile`
 * @param {(line: string) => void} [o.log]
 */
export async function runLoad(o) {
  const log = o.log ?? (() => {});
  const lat = new Samples();
  const ackLat = new Samples();
  const sendTimes = new Map();
  const pending = new Map();
  const errors = {};
  const countError = (code) => (errors[code] = (errors[code] ?? 0) + 1);
  let deliveries = 0;
  let unknownDeliveries = 0;
  let lastDeliveryAt = 0;
  /** Deliveries after this time (set once the load stops) are marked late: seen[] holds 2 instead of 1. */
  let onTimeUntil = Infinity;
  let lastAckAt = 0;
  let sent = 0;
  let acked = 0;
  let unexpectedCloses = 0;
  let connectRetries = 0;

  const rooms = o.rooms.map((r, idx) => ({ id: r.id, idx, urls: r.urls, sockets: [], acked: [], maxAcked: 0 }));
  const sockets = [];
  for (const room of rooms) {
    for (const url of room.urls) {
      const sock = { url, room, ws: null, ready: false, base: 0, prev: 0, seen: new Uint8Array(256), unique: 0, dups: 0, ooo: 0, readyMs: 0, closing: false };
      room.sockets.push(sock);
      sockets.push(sock);
    }
  }

  function onMessage(sock, data) {
    const now = performance.now();
    const frame = JSON.parse(data);
    switch (frame.type) {
      case "message": {
        const m = frame.message;
        deliveries++;
        lastDeliveryAt = now;
        const t = sendTimes.get(m.clientId);
        if (t === undefined) unknownDeliveries++;
        else lat.push(now - t);
        const seq = m.seq;
        if (seq !== sock.prev + 1) sock.ooo++;
        if (seq > sock.prev) sock.prev = seq;
        const off = seq - sock.base;
        if (off <= 0) {
          sock.dups++; // at or before the ready frame's lastSeq: replayed although not asked for
          return;
        }
        if (off >= sock.seen.length) {
          let size = sock.seen.length;
          while (size <= off) size *= 2;
          const bigger = new Uint8Array(size);
          bigger.set(sock.seen);
          sock.seen = bigger;
        }
        if (sock.seen[off]) sock.dups++;
        else {
          sock.seen[off] = now <= onTimeUntil ? 1 : 2;
          sock.unique++;
        }
        return;
      }
      case "ack": {
        const p = pending.get(frame.clientId);
        if (!p) {
          countError("unexpected_ack");
          return;
        }
        pending.delete(frame.clientId);
        acked++;
        lastAckAt = now;
        ackLat.push(now - p.sentAt);
        p.room.acked.push(frame.seq);
        if (frame.seq > p.room.maxAcked) p.room.maxAcked = frame.seq;
        p.done?.(true);
        return;
      }
      case "error": {
        countError(frame.code ?? "error");
        const p = frame.clientId !== undefined ? pending.get(frame.clientId) : undefined;
        if (p) {
          pending.delete(frame.clientId);
          p.done?.(false);
        }
        return;
      }
      case "ready":
        countError("second_ready");
        return;
      default:
        return; // read, typing, pong
    }
  }

  const open = (sock) =>
    openReady(sock, sock.url, {
      onReady: (frame) => {
        sock.base = frame.lastSeq;
        sock.prev = frame.lastSeq;
      },
      onFrame: (data) => onMessage(sock, data),
      onClose: () => {
        if (!sock.closing) unexpectedCloses++;
      },
    });
  const connect = (sock) => withRetries(() => open(sock), `connect ${sock.url.replace(/token=[^&]+/, "token=…")}`, () => connectRetries++);

  // ---- connect ----
  const mem0 = o.probe();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  // With no load to follow (scenario D), the profile covers the connecting itself.
  const profileConnect = o.mode === "none";
  if (profileConnect) await o.onLoadStart?.();
  const connectStart = performance.now();
  await pool(sockets, o.connectConcurrency, connect);
  const connectMs = performance.now() - connectStart;
  const readyLat = new Samples();
  for (const s of sockets) readyLat.push(s.readyMs);
  const memConnected = o.probe();
  log(`  ${sockets.length} sockets ready in ${(connectMs / 1000).toFixed(2)} s`);

  // ---- load ----
  const text = o.marker ? `${o.marker} ${"x".repeat(Math.max(0, o.payload - o.marker.length - 1))}` : "x".repeat(o.payload);
  const sendFrom = (sock, room, clientId, done) => {
    const now = performance.now();
    sendTimes.set(clientId, now);
    pending.set(clientId, { room, sentAt: now, done });
    sent++;
    sock.ws.send(`{"type":"send","clientId":"${clientId}","kind":"text","body":{"text":"${text}"}}`);
  };

  if (!profileConnect) await o.onLoadStart?.();
  const cpu0 = o.probe();
  const gen0 = process.cpuUsage();
  const busy0 = machineBusySeconds();
  loop.enable();
  const t0 = performance.now();
  const tEnd = t0 + o.duration * 1000;
  if (o.mode === "closed") {
    const streams = [];
    for (const room of rooms) {
      const n = room.sockets.length;
      for (let s = 0; s < o.senders; s++) {
        streams.push(
          (async () => {
            for (let k = 0; performance.now() < tEnd; k++) {
              const sock = o.rotate ? room.sockets[(s + k * o.senders) % n] : room.sockets[s % n];
              const clientId = `${o.tag}.${room.idx}.${s}.${k}`;
              const ok = await new Promise((resolve) => {
                const timer = setTimeout(() => {
                  if (pending.delete(clientId)) countError("ack_timeout");
                  resolve(false);
                }, 10_000);
                sendFrom(sock, room, clientId, (result) => {
                  clearTimeout(timer);
                  resolve(result);
                });
              });
              if (!ok) await sleep(20); // refused (e.g. rate_limited): do not spin
            }
          })(),
        );
      }
    }
    await Promise.all(streams);
  } else if (o.mode === "rate") {
    const perSender = o.rate / o.senders;
    const interval = 1000 / perSender;
    const senders = [];
    for (const room of rooms) for (let s = 0; s < o.senders; s++) senders.push({ room, s, sock: room.sockets[s % room.sockets.length], k: 0 });
    senders.forEach((snd, j) => (snd.next = t0 + (j / senders.length) * interval));
    await new Promise((resolve) => {
      const tick = () => {
        const now = performance.now();
        for (const snd of senders) {
          while (snd.next <= now && snd.next < tEnd) {
            sendFrom(snd.sock, snd.room, `${o.tag}.${snd.room.idx}.${snd.s}.${snd.k++}`);
            snd.next += interval;
          }
        }
        if (now >= tEnd) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
  }
  const loadEnd = performance.now();

  // ---- drain: acks, then deliveries (and the mirror check beside them) ----
  // What arrives within `drain` s after the load stopped is on time; what arrives in the `late` s after that is
  // counted late (an overloaded server catching up); what never arrives is lost (or unacked).
  const drainDeadline = loadEnd + o.drain * 1000;
  onTimeUntil = drainDeadline;
  const lateDeadline = drainDeadline + (o.late ?? 0) * 1000;
  let ackedAtDrain = null;
  let deliveriesAtDrain = null;
  const mark = () => {
    if (ackedAtDrain === null && performance.now() >= drainDeadline) {
      ackedAtDrain = acked;
      deliveriesAtDrain = deliveries;
    }
  };
  while (pending.size > 0 && performance.now() < lateDeadline) {
    mark();
    await sleep(5);
  }
  const unacked = pending.size;
  if (unacked) errors.no_ack = unacked;
  const after = o.afterLoad && o.mode !== "none" ? o.afterLoad({ rooms, lastAckAt, loadEnd }) : Promise.resolve(undefined);
  const caughtUp = () => rooms.every((room) => room.sockets.every((s) => s.prev >= room.maxAcked && s.unique >= room.acked.length));
  while (!caughtUp() && performance.now() < lateDeadline) {
    mark();
    await sleep(5);
  }
  const drainedAt = performance.now();
  loop.disable();
  const genCpu = process.cpuUsage(gen0);
  const cpu1 = o.probe();
  const busy1 = machineBusySeconds();
  const afterResult = await after;
  const profile = await o.onLoadEnd?.();
  const mem1 = o.probe();

  // ---- verdict ----
  let lost = 0;
  let dups = 0;
  let ooo = 0;
  let expected = 0;
  // Deliveries of (eventually) acked messages that had not reached their socket `drain` s after the load
  // stopped: the backlog then, whether it arrived later (late) or never (lost).
  let undeliveredAtDrain = 0;
  for (const room of rooms) {
    for (const s of room.sockets) {
      dups += s.dups;
      ooo += s.ooo;
      for (const seq of room.acked) {
        expected++;
        const off = seq - s.base;
        const got = off <= 0 || off >= s.seen.length ? 0 : s.seen[off];
        if (!got) lost++;
        if (got !== 1) undeliveredAtDrain++;
      }
    }
  }

  // ---- close ----
  await closeAll(sockets);

  const wall = (loadEnd - t0) / 1000;
  const span = Math.max(wall, ((lastDeliveryAt || loadEnd) - t0) / 1000);
  const loadCpuWall = (drainedAt - t0) / 1000;
  return {
    sockets: sockets.length,
    connect: {
      seconds: connectMs / 1000,
      socketsPerSecond: sockets.length / (connectMs / 1000),
      readyLatencyMs: readyLat.summary(),
      retries: connectRetries,
    },
    load:
      o.mode === "none"
        ? null
        : {
            seconds: wall,
            deliverySpanSeconds: span,
            sent,
            acked,
            unacked,
            sentPerSecond: sent / wall,
            ackedPerSecond: acked / wall,
            deliveries,
            expectedDeliveries: expected,
            deliveriesPerSecond: deliveries / span,
            latencyMs: lat.summary(),
            ackLatencyMs: ackLat.summary(),
            lost,
            duplicated: dups,
            outOfOrder: ooo,
            unknownDeliveries,
            lateAcks: ackedAtDrain === null ? 0 : acked - ackedAtDrain,
            lateDeliveries: deliveriesAtDrain === null ? 0 : deliveries - deliveriesAtDrain,
            undeliveredAtDrain,
            drainWindowSeconds: o.drain,
            unexpectedCloses,
            drainSeconds: (drainedAt - loadEnd) / 1000,
            lastAckAfterLoadMs: lastAckAt ? lastAckAt - loadEnd : null,
          },
    errors,
    errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
    // CPU over the load and drain (percent of one core), per server process group the probe names.
    cpu: {
      ...Object.fromEntries(Object.keys(cpu1).map((part) => [`${part}Percent`, (100 * (cpu1[part].cpuSeconds - cpu0[part].cpuSeconds)) / loadCpuWall])),
      loadgenPercent: (100 * ((genCpu.user + genCpu.system) / 1e6)) / loadCpuWall,
      // Everything else this machine ran meanwhile (other people's builds and tests share these cores).
      otherPercent:
        (100 * (busy1 - busy0 - (genCpu.user + genCpu.system) / 1e6 - Object.keys(cpu1).reduce((a, p) => a + cpu1[p].cpuSeconds - cpu0[p].cpuSeconds, 0))) /
        loadCpuWall,
      machineCores: os.availableParallelism(),
      loadgenLoopDelayP99Ms: loop.count ? loop.percentile(99) / 1e6 : null,
    },
    // CPU seconds of each server part over the load and drain, and over connecting.
    cpuSeconds: Object.fromEntries(Object.keys(cpu1).map((part) => [part, cpu1[part].cpuSeconds - cpu0[part].cpuSeconds])),
    connectCpuSeconds: Object.fromEntries(Object.keys(memConnected).map((part) => [part, memConnected[part].cpuSeconds - mem0[part].cpuSeconds])),
    // Resident memory before connecting, with every socket connected, and after the load.
    memory: Object.fromEntries(
      Object.keys(mem1).map((part) => [part, { beforeBytes: mem0[part].rssBytes, connectedBytes: memConnected[part].rssBytes, afterBytes: mem1[part].rssBytes }]),
    ),
    after: afterResult,
    ...(profile ? { profile } : {}),
  };
}
