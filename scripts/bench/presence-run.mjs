// Scenario P (device channels, notify frames, webhook pushes) as `npm run bench` runs and prints it; the
// load itself is in presence.mjs, the seeding in presence-seed.mjs.
import { performance } from "node:perf_hooks";
import { runPresence } from "./presence.mjs";
import { seedPresence } from "./presence-seed.mjs";
import { fmt, mib, table } from "./stats.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function printProfile(sc, result, log) {
  if (!result.profile) return;
  const rows = [["function (self time)", "ms", "% of wall", "% of busy"]];
  for (const r of result.profile.top.slice(0, 20)) rows.push([r.fn.slice(0, 90), fmt(r.ms, 0), fmt(r.percentOfWall, 1), fmt(r.percentOfBusy, 1)]);
  const charged = [["charged to our function [+ native callee]", "ms", "% of wall", "% of busy"]];
  for (const r of result.profile.byOurCaller.slice(0, 20)) charged.push([r.fn.slice(0, 90), fmt(r.ms, 0), fmt(r.percentOfWall, 1), fmt(r.percentOfBusy, 1)]);
  log(`  isolate busy ${fmt(result.profile.busyPercent, 0)}% of ${fmt(result.profile.wallMs / 1000, 1)} s (bench-results/${sc.name}.cpuprofile)\n${table(rows).replace(/^/gm, "    ")}\n\n${table(charged).replace(/^/gm, "    ")}`);
}
/** Scenario P: device channels, notify frames and webhook pushes (scripts/bench/presence.mjs). */
export async function runPresenceOne(target, sc, tag, ctx) {
  const { log, pushReceiver, profiler, drain, late, pushWait, stormQuiet, connectConcurrency, waitQuiet, tenantId } = ctx;
  log(`\n[${sc.name}] ${target.name}: ${sc.title}`);
  const started = performance.now();
  const seeded = await seedPresence({
    base: target.base,
    adminToken: target.adminToken,
    tenantId,
    channels: sc.channels,
    offline: sc.offline,
    groups: sc.groups,
    onlinePerGroup: sc.onlinePerGroup,
    pushOnline: sc.pushOnline,
    receiverPort: pushReceiver.port,
  });
  const seedSeconds = (performance.now() - started) / 1000;
  log(
    `  seeded ${seeded.onlineIds.length + seeded.offlineIds.length} users, ${seeded.offlineIds.length + seeded.onlineWithPush.length} webhook devices ` +
      `and ${seeded.groups.length} groups in ${seedSeconds.toFixed(1)} s (${seeded.requests} requests, ${seeded.throttled} answered 429)`,
  );
  const result = await runPresence({
    base: target.base,
    seeded,
    receiver: pushReceiver,
    rate: sc.rate,
    duration: sc.duration,
    payload: sc.payload,
    drain,
    late,
    pushWait,
    pushSettle: 3,
    stormQuiet,
    stormMax: 120,
    connectConcurrency,
    tag,
    probe: target.probe,
    waitQuiet,
    log,
    ...(profiler && target.profiled
      ? {
          onLoadStart: () => profiler.start(),
          onLoadEnd: () => profiler.stop(`bench-results/${sc.name}.cpuprofile`),
        }
      : {}),
  });
  result.seedSeconds = seedSeconds;
  printProfile(sc, result, log);
  const n = result.notify;
  const p = result.push;
  log(
    `  sent ${result.load.sent} (${fmt(result.load.sentPerSecond)}/s); notify frames ${n.frames} of ${n.expected} expected, ` +
      `p50/p99 ${fmt(n.latencyMs.p50, 2)}/${fmt(n.latencyMs.p99, 2)} ms, missing ${n.missing}, dup ${n.duplicated}, unexpected ${n.unexpected + n.toSender}; ` +
      `pushes ${p.received} of ${p.expected} expected, missing ${p.missing}, dup ${p.duplicated}, to online ${p.toOnlineDevices}, ` +
      `p50/p99 ${fmt(p.latencyMs.p50, 0)}/${fmt(p.latencyMs.p99, 0)} ms; errors ${result.errorCount}`,
  );
  await sleep(500);
  return result;
}


export function presenceVerdicts(sc, r) {
  const out = [];
  const add = (what, target, measured, met) => out.push({ what, target, measured, met });
  const n = r.notify;
  const p = r.push;
  const t = { notifyP99Ms: 100 };
  add(`${r.channels} device channels open and ready`, "(reported)", `${r.connect.seconds.toFixed(2)} s`, null);
  if (t.notifyP99Ms !== undefined) {
    add("notify p99, send → every online member's channel", `< ${t.notifyP99Ms} ms`, `${fmt(n.latencyMs.p99, 2)} ms`, n.latencyMs.p99 !== null && n.latencyMs.p99 < t.notifyP99Ms);
  }
  add("notify missing / duplicated / unexpected", "0 / 0 / 0", `${n.missing} / ${n.duplicated} / ${n.unexpected + n.toSender}`, n.missing === 0 && n.duplicated === 0 && n.unexpected + n.toSender === 0);
  // At most 1 msg/s per group every message is its own hand-over to presence, so each must push exactly once.
  // Faster, a burst handed over together is one push for its newest message (docs/protocol.md): then a
  // message without a push is accepted when a later message of the same group reached that device.
  const spaced = sc.rate <= 1;
  const uncovered = p.missing - p.missingButLaterSeqPushed;
  add(
    spaced ? "exactly one push per offline device per message" : "a push per offline device per hand-over (bursts coalesced)",
    spaced ? `${p.expected} pushes` : `<= ${p.expected} pushes, none lost`,
    `${p.expected - p.missing} delivered, ${p.missing} missing${p.missingButLaterSeqPushed ? ` (${p.missingButLaterSeqPushed} with a later seq pushed)` : ""}, ${p.duplicated} duplicated, ${p.unexpected} unexpected`,
    (spaced ? p.missing === 0 : uncovered === 0) && p.duplicated === 0 && p.unexpected === 0 && p.malformed === 0,
  );
  add("pushes to devices of online users", "0", String(p.toOnlineDevices), p.toOnlineDevices === 0);
  add("push arrival (queue; not in the 100 ms target)", "(reported)", `p50 ${fmt(p.latencyMs.p50, 0)} ms, p99 ${fmt(p.latencyMs.p99, 0)} ms, max ${fmt(p.latencyMs.max, 0)} ms`, null);
  add("error frames / unacked sends / closed channels", "0", `${r.errorCount}${r.errorCount ? " " + JSON.stringify(r.errors) : ""}`, r.errorCount === 0);
  return out;
}

export function presenceTable(sc, rows) {
  const header = ["target", "channels", "setup s", "ch/s", "storm frames", "storm s", "sent", "notify exp", "p50 ms", "p90 ms", "p99 ms", "max ms", "last-rcpt p99", "late", "miss", "dup", "unexp", "push exp", "push got", "miss", "dup", "to online", "push p50", "push p99", "push max", "err", "srv cpu%", "proxy%", "gen cpu%", "other%", "srv MiB"];
  const lines = [header];
  for (const [name, r] of rows) {
    if (!r) continue;
    const n = r.notify;
    const p = r.push;
    lines.push([
      name,
      r.channels,
      fmt(r.connect.seconds, 2),
      fmt(r.connect.socketsPerSecond, 0),
      r.storm.frames,
      r.storm.lastFrameAfterConnectStartMs === null ? "-" : fmt(r.storm.lastFrameAfterConnectStartMs / 1000, 1),
      r.load.sent,
      n.expected,
      fmt(n.latencyMs.p50, 2),
      fmt(n.latencyMs.p90, 2),
      fmt(n.latencyMs.p99, 2),
      fmt(n.latencyMs.max, 1),
      fmt(n.lastRecipientMs.p99, 1),
      n.late,
      n.missing,
      n.duplicated,
      n.unexpected + n.toSender,
      p.expected,
      p.received,
      p.missing,
      p.duplicated,
      p.toOnlineDevices,
      fmt(p.latencyMs.p50, 0),
      fmt(p.latencyMs.p99, 0),
      fmt(p.latencyMs.max, 0),
      r.errorCount,
      fmt(r.cpu.serverPercent, 0),
      r.cpu.proxyPercent !== undefined ? fmt(r.cpu.proxyPercent, 0) : "-",
      fmt(r.cpu.loadgenPercent, 0),
      fmt(r.cpu.otherPercent, 0),
      `${fmt(mib(r.memory.server?.beforeBytes), 0)}→${fmt(mib(r.memory.server?.connectedBytes), 0)}→${fmt(mib(r.memory.server?.afterBytes), 0)}`,
    ]);
  }
  return `\n=== ${sc.name}: ${sc.title}\n  (notify latency: send → notify frame on each online member's device channel; push: send → POST at the webhook receiver)\n${table(lines)}`;
}

