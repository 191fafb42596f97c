#!/usr/bin/env node
// npm run bench [-- options]: drive the Switchboard stack over real WebSockets and, in the same run, a bare
// Node `ws` broadcast server with the same workload shape. See docs/benchmarks.md.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { assertPortFree, ensureDevVars, snapshot, startStack, waitForHealth } from "./bench/stack.mjs";
import { seedTenant } from "./bench/api.mjs";
import { runLoad } from "./bench/load.mjs";
import { probeRoundTrips } from "./bench/probe.mjs";
import { runPresence, seedPresence, startPushReceiver } from "./bench/presence.mjs";
import { connectProfiler } from "./bench/profile.mjs";
import { cpuSeconds, machineBusySeconds, machineInfo, rssBytes } from "./bench/proc.mjs";
import { fmt, mib, round, table } from "./bench/stats.mjs";

const HELP = `npm run bench -- [options]

  --url URL             use a running stack instead of starting one (ADMIN_TOKEN from --admin-token or .dev.vars)
  --admin-token T       operator token for --url
  --port N              port of the stack this script starts (default 8791; never 8787); the runtime's
                        inspector gets N+1000 (--inspector-port)
  --baseline-port N     port of the bare ws server (default 8792)
  --only A,B,C,D,P      scenarios to run (default all)
  --no-baseline         skip the bare ws comparison
  --direct              also run every scenario straight against the runtime's own port, bypassing the proxy
                        that \`wrangler dev\` puts in front of it (shows what the dev proxy costs)
  --ref REF             serve this git ref (e.g. HEAD) instead of the working tree
  --apply FILE          apply this patch (patch -p1) to the served copy, e.g. to measure a proposed change
  --quick               short smoke run: 3 s of load, C with 20 rooms, D with 500 sockets,
                        P with 300 channels, 2 groups and 5 s of sending
  --rooms N --clients N --senders N --mode closed|rate|none --rate N (msgs/s per room)
  --payload BYTES --duration S
                        override the shape of every selected scenario (P takes --rate as msgs/s per group,
                        --payload and --duration; the others do not apply to it)
  P (device channels, notify and push):
  --channels N          online users, one device channel each (default 2000)
  --groups N            groups messaged (default 10), each with --online-per-group online users (default 150)
                        and every offline user as members, plus the tenant's bot
  --offline N           offline users with a webhook push device, members of every group (default 50)
  --push-online N       online users that also register a webhook push device and must get no push (default 50)
  --push-wait S         seconds after the last send to wait for every expected push (default 60)
  --storm-quiet S       after connecting, wait until no presence frame came for S s before sending (default 3;
                        0 = send at once, during the presence announcements of everyone who just came online)
  --no-rotate           closed loop: each sender uses one socket (one device) instead of taking turns
  --repeat N            run every scenario N times (targets interleaved) and report the median run; the
                        machine is shared, so single runs can be skewed by other work (see "other%")
  --quiet PCT           before each run wait (up to --quiet-wait S, default 60) until processes other than
                        the bench's own use less than PCT% of a core (default 25; 0 = do not wait)
  --drain S             seconds allowed after the load for acks and deliveries to arrive on time (default 5)
  --late S              seconds more to wait for late ones (counted "late") before counting them lost (default 30)
  --warmup S            closed-loop warm-up of each server before the scenarios (default 2, 0 = none)
  --cpu-profile         profile the Worker isolate (DevTools protocol) during each load on the stack's port;
                        writes bench-results/<scenario>.cpuprofile and prints the top functions. The
                        profiler slows the isolate: use such a run to see where time goes, not for figures.
  --no-probe            skip the unloaded round-trip probe (ping / typing / send on a 50-socket conversation)
  --connect-concurrency N  handshakes in flight at once (default 500)
  --out FILE            JSON result file (default bench-results/bench-<time>.json)
`;

// ---------- options ----------
function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new Error(`unexpected argument ${arg}`);
    const eq = arg.indexOf("=");
    const key = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (eq > 0) opts[key] = arg.slice(eq + 1);
    else if (["quick", "no-baseline", "no-rotate", "direct", "no-probe", "cpu-profile", "help"].includes(key)) opts[key] = true;
    else opts[key] = argv[++i];
  }
  return opts;
}

const args = parseArgs(process.argv.slice(2));
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const num = (v, d) => (v === undefined ? d : Number(v));
const port = num(args.port, 8791);
if (port === 8787) throw new Error("port 8787 belongs to someone else's stack; pick another");
const baselinePort = num(args["baseline-port"], 8792);
const quick = Boolean(args.quick);
const drain = num(args.drain, 5);
const late = num(args.late, 30);
const warmup = num(args.warmup, 2);
const connectConcurrency = num(args["connect-concurrency"], 500);
const rotate = !args["no-rotate"];
const repeat = Math.max(1, num(args.repeat, 1));
const quietPercent = num(args.quiet, 25);
const quietWaitMs = num(args["quiet-wait"], 60) * 1000;
const runId = `b${Date.now().toString(36)}`;

const SCENARIOS = {
  A: { title: "1 conversation x 50 clients, 1 closed-loop sender", rooms: 1, clients: 50, mode: "closed", senders: 1, rate: 0 },
  B: { title: "1 conversation x 50 clients, 200 msg/s open loop (5 senders x 40/s)", rooms: 1, clients: 50, mode: "rate", senders: 5, rate: 200 },
  C: { title: "100 conversations x 10 clients, 10 msg/s each", rooms: 100, clients: 10, mode: "rate", senders: 1, rate: 10 },
  D: { title: "2,000 sockets over 200 conversations: connection setup", rooms: 200, clients: 10, mode: "none", senders: 0, rate: 0 },
  P: {
    title: "2,000 device channels; 10 groups of 200 users (150 online + 50 offline with webhook push) + bot, 1 msg/s per group",
    presence: true,
    channels: 2_000,
    groups: 10,
    onlinePerGroup: 150,
    offline: 50,
    pushOnline: 50,
    rate: 1,
  },
};
const TARGETS = {
  A: { deliveriesRatio: 0.25, p99Ms: 30 },
  B: { p99Ms: 15 },
  C: { p99Ms: 20 },
  D: { connectSeconds: 5 },
  P: { notifyP99Ms: 100 },
};
const MIRROR_TARGET_MS = 2_000;

const selected = (args.only ?? "A,B,C,D,P").split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
for (const name of selected) if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}`);
const scenarios = selected.map((name) => {
  const base = { name, ...SCENARIOS[name], payload: 100, duration: name === "D" ? 0 : 10 };
  if (quick) {
    if (base.mode !== "none") base.duration = 3;
    if (name === "C") base.rooms = 20;
    if (name === "D") base.rooms = 50;
  }
  if (base.presence) {
    base.duration = quick ? 5 : 10;
    if (quick) Object.assign(base, { channels: 300, groups: 2, pushOnline: 10 });
    const p = {
      channels: args.channels && num(args.channels),
      groups: args.groups && num(args.groups),
      onlinePerGroup: args["online-per-group"] && num(args["online-per-group"]),
      offline: args.offline && num(args.offline),
      pushOnline: args["push-online"] && num(args["push-online"]),
      rate: args.rate && num(args.rate),
      payload: args.payload && num(args.payload),
      duration: args.duration && num(args.duration),
    };
    for (const [k, v] of Object.entries(p)) if (v !== undefined) base[k] = v;
    base.title =
      `${base.channels.toLocaleString("en-US")} device channels; ${base.groups} group${base.groups === 1 ? "" : "s"} of ` +
      `${Math.min(base.onlinePerGroup, base.channels) + base.offline} users (${Math.min(base.onlinePerGroup, base.channels)} online + ${base.offline} offline with webhook push) + bot, ` +
      `${base.rate} msg/s per group for ${base.duration} s`;
    return base;
  }
  const o = {
    rooms: args.rooms && num(args.rooms),
    clients: args.clients && num(args.clients),
    senders: args.senders && num(args.senders),
    mode: args.mode,
    rate: args.rate && num(args.rate),
    payload: args.payload && num(args.payload),
    duration: args.duration && num(args.duration),
  };
  for (const [k, v] of Object.entries(o)) if (v !== undefined) base[k] = v;
  if (base.mode === "closed" && !rotate) base.title += " (one socket, no rotation)";
  return base;
});

// ---------- lifecycle ----------
const cleanups = [];
async function cleanup() {
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch (err) {
      console.error(`cleanup: ${err.message}`);
    }
  }
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    console.error(`\n${signal}: stopping`);
    await cleanup();
    process.exit(130);
  });
}

const log = (line) => console.log(line);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function versionOf(pkg) {
  try {
    return JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, "utf8")).version;
  } catch {
    return null;
  }
}

async function startBaseline() {
  await assertPortFree(baselinePort, "baseline");
  const child = spawn(process.execPath, ["scripts/bench/baseline-server.mjs", String(baselinePort)], { stdio: ["ignore", "pipe", "inherit"] });
  cleanups.push(async () => {
    child.kill("SIGTERM");
    await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
  });
  await new Promise((resolve, reject) => {
    child.stdout.once("data", resolve);
    child.once("exit", (code) => reject(new Error(`baseline server exited with ${code}`)));
  });
  return {
    name: "bare ws",
    pid: child.pid,
    probe: () => ({ server: { rssBytes: rssBytes([child.pid]), cpuSeconds: cpuSeconds([child.pid]) } }),
    async prepare(sc, tag) {
      const rooms = Array.from({ length: sc.rooms }, (_, r) => ({
        id: `${tag}/${r}`,
        urls: Array.from({ length: sc.clients }, (_, i) => `ws://127.0.0.1:${baselinePort}/${tag}/${r}?device=d${i}&after=0`),
      }));
      return { rooms, beforeConnect: async () => {}, afterLoad: undefined, seedSeconds: 0 };
    },
  };
}

let tenants = 0;
function switchboardTarget(stack, adminToken, { name = "switchboard", base = stack.base } = {}) {
  const wsBase = base.replace(/^http/, "ws");
  return {
    name,
    base,
    adminToken,
    // server: the runtime's workerd (the product); proxy: wrangler dev's proxy workerd; tooling: npx + wrangler's Node.
    probe: () => {
      if (!stack.workerd) return { server: { rssBytes: null, cpuSeconds: 0 } };
      const all = stack.all();
      const workerd = stack.workerd();
      const runtime = stack.runtimePid ? workerd.filter((pid) => pid === stack.runtimePid) : workerd;
      const proxy = workerd.filter((pid) => pid !== stack.runtimePid);
      const tooling = all.filter((pid) => !workerd.includes(pid));
      const part = (pids) => ({ rssBytes: rssBytes(pids), cpuSeconds: cpuSeconds(pids) });
      return { server: part(runtime), proxy: part(proxy), tooling: part(tooling) };
    },
    async prepare(sc, tag) {
      const started = performance.now();
      const seeded = await seedTenant({ base, adminToken, tenantId: `${runId}-${tag}-${++tenants}`.slice(0, 64), rooms: sc.rooms, clientsPerRoom: sc.clients });
      const seedSeconds = (performance.now() - started) / 1000;
      const rooms = seeded.rooms.map((room) => ({
        id: room.id,
        urls: room.users.map((u, i) => `${wsBase}/v1/conversations/${room.id}/ws?token=${encodeURIComponent(u.token)}&after=0&device=d${i}`),
      }));
      const sockets = sc.rooms * sc.clients;
      return {
        rooms,
        seedSeconds,
        seedRequests: seeded.api.requests,
        // The upgrades count against the tenant's 3000 requests / 10 s: start them in a window that has room.
        beforeConnect: async () => seeded.api.pacer.fresh(Math.min(sockets, 2_800)),
        afterLoad: async ({ rooms: live, lastAckAt }) => {
          const want = live.map((r) => [r.id, r.maxAcked]);
          const start = performance.now();
          let polls = 0;
          let behind = want.length;
          let ahead = 0;
          while (performance.now() - start < (drain + late) * 1000) {
            const { conversations } = await seeded.api.call("GET", "/v1/conversations?limit=500");
            const now = performance.now();
            polls++;
            const lastSeq = new Map(conversations.map((c) => [c.id, c.lastSeq]));
            behind = want.filter(([id, seq]) => (lastSeq.get(id) ?? -1) < seq).length;
            ahead = want.filter(([id, seq]) => (lastSeq.get(id) ?? -1) > seq).length;
            if (behind === 0) return { caughtUp: true, sinceLastAckMs: now - lastAckAt, polls, ahead };
            await sleep(20);
          }
          return { caughtUp: false, sinceLastAckMs: null, polls, behind, ahead };
        },
      };
    },
  };
}

/** The figure a scenario is judged by, used to pick the median of repeated runs. */
function keyOf(sc, r) {
  if (sc.presence) return { name: "notify p99", value: r.notify.latencyMs.p99 ?? Infinity, digits: 2 };
  if (!r.load) return { name: "setup seconds", value: r.connect.seconds, digits: 2 };
  if (sc.mode === "closed") return { name: "deliveries/s", value: r.load.deliveriesPerSecond, digits: 0 };
  return { name: "p99 latency", value: r.load.latencyMs.p99 ?? Infinity, digits: 2 };
}

function median(sc, list) {
  if (list.length === 0) return null;
  const sorted = [...list].sort((a, b) => keyOf(sc, a).value - keyOf(sc, b).value);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** Pids of everything this bench runs (besides itself): filled in as servers start. */
const ownPids = [];

/** Wait until the rest of the machine is quiet, so the run is not skewed by someone else's build. */
async function waitQuiet() {
  if (quietPercent <= 0) return;
  const start = Date.now();
  const ours = () => {
    const u = process.cpuUsage();
    return cpuSeconds(ownPids.flatMap((f) => f())) + (u.user + u.system) / 1e6;
  };
  let other = 0;
  while (Date.now() - start < quietWaitMs) {
    const b0 = machineBusySeconds();
    const o0 = ours();
    await sleep(1_000);
    other = 100 * (machineBusySeconds() - b0 - (ours() - o0));
    if (other < quietPercent) break;
  }
  const waited = (Date.now() - start) / 1000;
  if (waited > 1.5) log(`  waited ${waited.toFixed(0)} s for other processes to quiet down (last: ${other.toFixed(0)}% of a core)`);
}

let profiler = null;
let pushReceiver = null;

function printProfile(sc, result) {
  if (!result.profile) return;
  const rows = [["function (self time)", "ms", "% of wall", "% of busy"]];
  for (const r of result.profile.top.slice(0, 20)) rows.push([r.fn.slice(0, 90), fmt(r.ms, 0), fmt(r.percentOfWall, 1), fmt(r.percentOfBusy, 1)]);
  const charged = [["charged to our function [+ native callee]", "ms", "% of wall", "% of busy"]];
  for (const r of result.profile.byOurCaller.slice(0, 20)) charged.push([r.fn.slice(0, 90), fmt(r.ms, 0), fmt(r.percentOfWall, 1), fmt(r.percentOfBusy, 1)]);
  log(`  isolate busy ${fmt(result.profile.busyPercent, 0)}% of ${fmt(result.profile.wallMs / 1000, 1)} s (bench-results/${sc.name}.cpuprofile)\n${table(rows).replace(/^/gm, "    ")}\n\n${table(charged).replace(/^/gm, "    ")}`);
}
const pushWait = num(args["push-wait"], 60);

/** Scenario P: device channels, notify frames and webhook pushes (scripts/bench/presence.mjs). */
async function runPresenceOne(target, sc, tag) {
  log(`\n[${sc.name}] ${target.name}: ${sc.title}`);
  const started = performance.now();
  const seeded = await seedPresence({
    base: target.base,
    adminToken: target.adminToken,
    tenantId: `${runId}-${tag}-${++tenants}`.slice(0, 64),
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
    stormQuiet: num(args["storm-quiet"], 3),
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
  printProfile(sc, result);
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

async function runOne(target, sc, tag) {
  if (sc.presence) return runPresenceOne(target, sc, tag);
  log(`\n[${sc.name}] ${target.name}: ${sc.title}`);
  const prepared = await target.prepare(sc, tag);
  if (prepared.seedSeconds) log(`  seeded ${sc.rooms * sc.clients} users and ${sc.rooms} conversations in ${prepared.seedSeconds.toFixed(1)} s (${prepared.seedRequests} requests)`);
  await waitQuiet();
  const waited = await prepared.beforeConnect();
  if (waited > 50) log(`  waited ${(waited / 1000).toFixed(1)} s for a fresh tenant rate-limit window`);
  await sleep(300);
  const result = await runLoad({
    rooms: prepared.rooms,
    mode: sc.mode,
    rate: sc.rate,
    senders: sc.senders,
    rotate,
    payload: sc.payload,
    duration: sc.duration,
    drain,
    late,
    connectConcurrency,
    tag,
    probe: target.probe,
    afterLoad: prepared.afterLoad,
    ...(profiler && target.profiled
      ? {
          onLoadStart: () => profiler.start(),
          onLoadEnd: () => profiler.stop(`bench-results/${sc.name}.cpuprofile`),
        }
      : {}),
    log,
  });
  printProfile(sc, result);
  result.seedSeconds = prepared.seedSeconds;
  const l = result.load;
  if (l) {
    log(
      `  sent ${l.sent} (${fmt(l.sentPerSecond)}/s), deliveries ${l.deliveries} (${fmt(l.deliveriesPerSecond)}/s), ` +
        `p50/p99 ${fmt(l.latencyMs.p50, 2)}/${fmt(l.latencyMs.p99, 2)} ms, lost ${l.lost}, dup ${l.duplicated}, ooo ${l.outOfOrder}, errors ${result.errorCount}` +
        (result.after ? `, mirror ${result.after.caughtUp ? `${fmt(result.after.sinceLastAckMs, 0)} ms` : "NOT caught up"}` : ""),
    );
  }
  await sleep(500);
  return result;
}

// ---------- verdicts and output ----------
function presenceVerdicts(sc, r) {
  const out = [];
  const add = (what, target, measured, met) => out.push({ what, target, measured, met });
  const n = r.notify;
  const p = r.push;
  const t = TARGETS[sc.name] ?? {};
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

function presenceTable(sc, rows) {
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

function verdicts(sc, ours, theirs) {
  if (sc.presence) return presenceVerdicts(sc, ours);
  const out = [];
  const t = TARGETS[sc.name];
  const l = ours.load;
  const add = (what, target, measured, met) => out.push({ what, target, measured, met });
  if (t?.deliveriesRatio !== undefined && l) {
    const ratio = theirs?.load ? l.deliveriesPerSecond / theirs.load.deliveriesPerSecond : null;
    add("deliveries/s vs bare ws", `>= ${t.deliveriesRatio}x`, ratio === null ? "no baseline" : `${ratio.toFixed(3)}x`, ratio === null ? null : ratio >= t.deliveriesRatio);
  }
  if (t?.p99Ms !== undefined && l) add("p99 delivery latency", `< ${t.p99Ms} ms`, `${fmt(l.latencyMs.p99, 2)} ms`, l.latencyMs.p99 !== null && l.latencyMs.p99 < t.p99Ms);
  if (t?.connectSeconds !== undefined) {
    add(`${ours.sockets} sockets open and ready`, `< ${t.connectSeconds} s`, `${ours.connect.seconds.toFixed(2)} s`, ours.connect.seconds < t.connectSeconds);
  }
  if (l) {
    add("lost / duplicated / out-of-order", "0 / 0 / 0", `${l.lost} / ${l.duplicated} / ${l.outOfOrder}`, l.lost === 0 && l.duplicated === 0 && l.outOfOrder === 0);
    add("error frames", "0", `${ours.errorCount}${ours.errorCount ? " " + JSON.stringify(ours.errors) : ""}`, ours.errorCount === 0);
    if (ours.after) {
      add("D1 mirror caught up after last ack", `< ${MIRROR_TARGET_MS} ms`, ours.after.caughtUp ? `${fmt(ours.after.sinceLastAckMs, 0)} ms` : "not caught up", ours.after.caughtUp && ours.after.sinceLastAckMs < MIRROR_TARGET_MS);
    }
  } else {
    add("connect errors", "0", String(ours.errorCount), ours.errorCount === 0);
  }
  return out;
}

function scenarioTable(sc, rows) {
  const header = ["target", "sockets", "setup s", "sock/s", "sent/s", "deliv/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "ack p50", "ack p99", "late", "lost", "dup", "ooo", "err", "srv cpu%", "proxy%", "gen cpu%", "other%", "srv MiB", "mirror ms"];
  const lines = [header];
  for (const [name, r] of rows) {
    if (!r) continue;
    const l = r.load;
    lines.push([
      name,
      r.sockets,
      fmt(r.connect.seconds, 2),
      fmt(r.connect.socketsPerSecond, 0),
      l ? fmt(l.sentPerSecond, 0) : "-",
      l ? fmt(l.deliveriesPerSecond, 0) : "-",
      l ? fmt(l.latencyMs.p50, 2) : fmt(r.connect.readyLatencyMs.p50, 1),
      l ? fmt(l.latencyMs.p90, 2) : fmt(r.connect.readyLatencyMs.p90, 1),
      l ? fmt(l.latencyMs.p99, 2) : fmt(r.connect.readyLatencyMs.p99, 1),
      l ? fmt(l.latencyMs.max, 1) : fmt(r.connect.readyLatencyMs.max, 1),
      l ? fmt(l.ackLatencyMs.p50, 2) : "-",
      l ? fmt(l.ackLatencyMs.p99, 2) : "-",
      l ? l.lateDeliveries : "-",
      l ? l.lost : "-",
      l ? l.duplicated : "-",
      l ? l.outOfOrder : "-",
      r.errorCount,
      l ? fmt(r.cpu.serverPercent, 0) : "-",
      l && r.cpu.proxyPercent !== undefined ? fmt(r.cpu.proxyPercent, 0) : "-",
      l ? fmt(r.cpu.loadgenPercent, 0) : "-",
      l ? fmt(r.cpu.otherPercent, 0) : "-",
      `${fmt(mib(r.memory.server.beforeBytes), 0)}→${fmt(mib(r.memory.server.connectedBytes), 0)}→${fmt(mib(r.memory.server.afterBytes), 0)}`,
      r.after ? (r.after.caughtUp ? fmt(r.after.sinceLastAckMs, 0) : "NO") : "-",
    ]);
  }
  const note = sc.mode === "none" ? "  (latency columns: handshake → ready per socket)" : "";
  return `\n=== ${sc.name}: ${sc.title}${note}\n${table(lines)}`;
}

// ---------- main ----------
async function main() {
  mkdirSync("bench-results", { recursive: true });
  const started = new Date();
  const vars = ensureDevVars();
  const adminToken = args["admin-token"] ?? vars.ADMIN_TOKEN;
  let stack;
  let served = null;
  if (args.url) {
    stack = { base: args.url.replace(/\/$/, "") };
    await waitForHealth(stack.base, null, 10_000);
    log(`using the running stack at ${stack.base} (server memory/CPU not measured)`);
  } else {
    // Our own port and copy: check the port before touching anything, and name the copy after this run.
    await assertPortFree(port, "stack");
    const dir = join(tmpdir(), `switchboard-bench-${port}-${runId}`);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    served = snapshot({ dir, ref: args.ref, patch: args.apply });
    log(`serving a snapshot of the ${served.source} from ${dir}`);
    log(`starting wrangler dev on 127.0.0.1:${port} (log in bench-results/wrangler-${port}-${runId}.log)`);
    const t = performance.now();
    stack = await startStack({
      cwd: dir,
      port,
      inspectorPort: num(args["inspector-port"], port + 1_000),
      persistTo: ".wrangler/state",
      logFile: `bench-results/wrangler-${port}-${runId}.log`,
    });
    cleanups.push(() => stack.stop());
    ownPids.push(() => stack.all());
    log(`stack up in ${((performance.now() - t) / 1000).toFixed(1)} s; runtime workerd pid ${stack.runtimePid} on ${stack.direct}; all workerd ${stack.workerd().join(", ")}`);
  }
  const ours = switchboardTarget(stack, adminToken);
  if (args["cpu-profile"] && !args.url) {
    profiler = await connectProfiler(num(args["inspector-port"], port + 1_000));
    cleanups.push(() => profiler.close());
    ours.profiled = true;
  }
  const direct = args.direct && stack.direct ? switchboardTarget(stack, adminToken, { name: "switchboard direct", base: stack.direct }) : null;
  // Scenario P has no bare-ws counterpart: start the baseline only for the others.
  const baseline = args["no-baseline"] || scenarios.every((sc) => sc.presence) ? null : await startBaseline();
  if (scenarios.some((sc) => sc.presence)) {
    pushReceiver = await startPushReceiver();
    cleanups.push(() => pushReceiver.close());
    log(`webhook push receiver on 127.0.0.1:${pushReceiver.port} (scenario P)`);
  }
  if (baseline) ownPids.push(() => [baseline.pid]);
  if (baseline) log(`bare ws baseline on 127.0.0.1:${baselinePort} (pid ${baseline.pid})`);

  if (warmup > 0) {
    const wsc = { name: "warmup", title: `warm-up, ${warmup} s closed loop`, rooms: 1, clients: 10, mode: "closed", senders: 1, rate: 0, payload: 100, duration: warmup };
    for (const target of [ours, baseline].filter(Boolean)) await runOne(target, wsc, `warm${target === ours ? "s" : "b"}`);
  }

  const probes = [];
  if (!args["no-probe"]) {
    const psc = { name: "probe", rooms: 1, clients: 50 };
    for (const target of [ours, direct, baseline].filter(Boolean)) {
      const prepared = await target.prepare(psc, `probe${probes.length}`);
      await prepared.beforeConnect();
      probes.push({ target: target.name, ...(await probeRoundTrips({ urls: prepared.rooms[0].urls, samples: 150, gapMs: 5, tag: `probe${probes.length}` })) });
    }
    const rows = [["target", "ping→pong p50", "p99", "typing→peer p50", "p99", "send→ack p50", "p99", "send→peer p50", "p99", "timeouts"]];
    for (const p of probes) {
      rows.push([p.target, ...[p.ping, p.typing, p.sendAck, p.sendDelivery].flatMap((x) => [fmt(x.p50, 2), fmt(x.p99, 2)]), p.timeouts]);
    }
    console.log(`\n=== Unloaded round trips on a 50-socket conversation (ms, ${probes[0]?.samples} each, one at a time)\n${table(rows)}`);
  }

  const results = [];
  const machine = {
    ...machineInfo(),
    node: process.version,
    wrangler: versionOf("wrangler"),
    workerd: versionOf("workerd"),
    ws: versionOf("ws"),
    served: served?.source ?? args.url,
  };
  const out = args.out ?? `bench-results/bench-${started.toISOString().replace(/[:.]/g, "-")}.json`;
  // Written after every scenario, so a run that stops half-way still leaves what it measured.
  const writeResults = () =>
    writeFileSync(
      out,
      JSON.stringify({ startedAt: started.toISOString(), machine, options: { ...args, port, baselinePort, drain, late, warmup, rotate, connectConcurrency, repeat, pushWait }, probes, results }, null, 2),
    );
  for (const sc of scenarios) {
    const runs = { switchboard: [], direct: [], baseline: [] };
    for (let k = 0; k < repeat; k++) {
      if (repeat > 1) log(`\n--- ${sc.name}: run ${k + 1} of ${repeat}`);
      runs.switchboard.push(await runOne(ours, sc, `${sc.name}s${k}`));
      if (direct) runs.direct.push(await runOne(direct, sc, `${sc.name}d${k}`));
      if (baseline && !sc.presence) runs.baseline.push(await runOne(baseline, sc, `${sc.name}b${k}`));
    }
    const mine = median(sc, runs.switchboard);
    const mineDirect = median(sc, runs.direct);
    const theirs = median(sc, runs.baseline);
    const v = verdicts(sc, mine, theirs);
    results.push({ scenario: sc, switchboard: mine, switchboardDirect: mineDirect, baseline: theirs, verdicts: v, runs: repeat > 1 ? runs : undefined });
    console.log(
      sc.presence
        ? presenceTable(sc, [["switchboard", mine], ["sb direct", mineDirect]])
        : scenarioTable(sc, [["switchboard", mine], ["sb direct", mineDirect], ["bare ws", theirs]]),
    );
    writeResults();
    if (repeat > 1) {
      const spread = (list) => list.map((r) => fmt(keyOf(sc, r).value, keyOf(sc, r).digits)).join(", ");
      console.log(`median of ${repeat} runs by ${keyOf(sc, mine).name}; all runs: switchboard ${spread(runs.switchboard)}` +
        (direct ? `; direct ${spread(runs.direct)}` : "") + (baseline ? `; bare ws ${spread(runs.baseline)}` : ""));
    }
    if (theirs?.load && mine.load) {
      console.log(
        `ratio (switchboard / bare ws): deliveries/s ${(mine.load.deliveriesPerSecond / theirs.load.deliveriesPerSecond).toFixed(3)}x, ` +
          `p50 ${fmt(mine.load.latencyMs.p50, 2)} vs ${fmt(theirs.load.latencyMs.p50, 2)} ms, p99 ${fmt(mine.load.latencyMs.p99, 2)} vs ${fmt(theirs.load.latencyMs.p99, 2)} ms`,
      );
    }
    if (theirs && !mine.load) {
      console.log(`ratio (switchboard / bare ws): sockets/s ${(mine.connect.socketsPerSecond / theirs.connect.socketsPerSecond).toFixed(3)}x`);
    }
  }

  writeResults();
  const summary = [["scenario", "check", "target", "measured", "met"]];
  for (const r of results) for (const v of r.verdicts) summary.push([r.scenario.name, v.what, v.target, v.measured, v.met === null ? "n/a" : v.met ? "yes" : "NO"]);
  console.log(`\n=== Targets\n${table(summary)}`);

  console.log(`\nresults: ${out}`);
}

try {
  await main();
} catch (err) {
  console.error(`bench failed: ${err.stack ?? err.message}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
