#!/usr/bin/env node
// npm run bench [-- options]: drive the Switchboard stack over real WebSockets and, in the same run, a bare
// Node `ws` broadcast server with the same workload shape. Every scenario runs against two stacks of the
// same code, one keeping the runtime's local state on disk and one on a memory file system (/dev/shm), each
// through wrangler's dev port and through the runtime's own port: four figures per scenario, all compared
// with the bare server measured in the same run. See docs/benchmarks.md.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { PORT_HINT, snapshot, startStack } from "./bench/stack.mjs";
import { assertPortFree, ensureDevVars } from "./lib/stack.mjs";
import { runLoad } from "./bench/load.mjs";
import { probeRoundTrips } from "./bench/probe.mjs";
import { startPushReceiver } from "./bench/push-gateway.mjs";
import { presenceTable, presenceVerdicts, printProfile, runPresenceOne } from "./bench/presence-run.mjs";
import { connectProfiler } from "./bench/profile.mjs";
import { cpuSeconds, machineBusySeconds, machineInfo } from "./lib/proc.mjs";
import { fmt, table } from "./bench/stats.mjs";
import { startBaseline, switchboardTarget } from "./bench/targets.mjs";
import { derived, keyOf, markdownSummary, median, ratio, ratioName, scenarioTable, verdicts } from "./bench/report.mjs";

const HELP = `npm run bench -- [options]

  --only A,B,C,D,E,P    scenarios to run (default A,B,C,D,E; P is the device-channel and push scenario)
  --quick               short smoke run (about 5 minutes): 3 s of load, C with 20 rooms, D with 500 sockets,
                        E with 200 sockets, P with 300 channels
  --state disk,memory   where the runtime keeps its local state (default both: a stack per state, the memory
                        one with \`wrangler dev --persist-to\` on /dev/shm)
  --via dev,direct      which port of each stack (default both): wrangler dev's proxy port, or the runtime's
                        own entry behind it (what production has: no dev proxy)
  --port N              the disk stack's port (default 8806); the memory stack takes N+1; inspectors N+1000
                        and N+1001 (--inspector-port)
  --baseline-port N     port of the bare ws server (default N+3)
  --no-baseline         skip the bare ws comparison
  --ref REF             serve this git ref (e.g. HEAD) instead of the working tree
  --apply FILE          apply this patch (patch -p1) to the served copy, e.g. to measure a proposed change
  --rooms N --clients N --senders N --mode closed|rate|none --rate N (msgs/s per room)
  --payload BYTES --duration S
                        override the shape of every selected scenario (P takes --rate as msgs/s per group,
                        --payload and --duration; the others do not apply to it)
  P (device channels, notify and push):
  --channels N --groups N --online-per-group N --offline N --push-online N --push-wait S --storm-quiet S
                        (defaults 2000, 10, 150, 50, 50, 60, 3; see docs/benchmarks.md)
  --no-rotate           closed loop: each sender uses one socket (one device) instead of taking turns
  --repeat N            run every scenario N times (targets interleaved) and report the median run
  --quiet PCT           before each run wait (up to --quiet-wait S, default 30) until processes other than
                        the bench's own use less than PCT% of a core (default 25; 0 = do not wait)
  --drain S             seconds after the load for acks and deliveries to arrive on time (default 5): what has
                        not arrived by then is "undelivered"
  --late S              seconds more to wait for late ones before counting them lost (default 30)
  --warmup S            closed-loop warm-up of each target before the scenarios (default 2, 0 = none)
  --cpu-profile         profile the memory stack's Worker isolate during each load on its ports; writes
                        bench-results/<scenario>.cpuprofile and prints the top functions. The profiler slows
                        the isolate: use such a run to see where time goes, not for figures.
  --no-probe            skip the unloaded round-trip probe (ping / typing / send on a 50-socket conversation)
  --connect-concurrency N  handshakes in flight at once (default 500)
  --out FILE            JSON result file (default bench-results/bench-<time>.json)
  --max-minutes N       stop (and clean up) a run that takes longer than this (default 120; 30 with --quick)

Everything listens on and talks to 127.0.0.1 only. The run stops by itself and removes its processes, the
snapshots of the project and the state directories (also on Ctrl-C).
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
    else if (["quick", "no-baseline", "no-rotate", "no-probe", "cpu-profile", "help"].includes(key)) opts[key] = true;
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
const list = (v, d) => (v ?? d).split(",").map((s) => s.trim()).filter(Boolean);
const port = num(args.port, 8806);
if (port === 8787 || port + 1 === 8787) throw new Error("port 8787 belongs to someone else's stack; pick another");
const baselinePort = num(args["baseline-port"], port + 3);
const inspectorPort = num(args["inspector-port"], port + 1_000);
const quick = Boolean(args.quick);
const drain = num(args.drain, 5);
const late = num(args.late, 30);
const warmup = num(args.warmup, 2);
const connectConcurrency = num(args["connect-concurrency"], 500);
const rotate = !args["no-rotate"];
const repeat = Math.max(1, num(args.repeat, 1));
const quietPercent = num(args.quiet, 25);
const quietWaitMs = num(args["quiet-wait"], 30) * 1000;
const pushWait = num(args["push-wait"], 60);
const states = list(args.state, "disk,memory");
const vias = list(args.via, "dev,direct");
for (const s of states) if (!["disk", "memory"].includes(s)) throw new Error(`--state: unknown ${s}`);
for (const v of vias) if (!["dev", "direct"].includes(v)) throw new Error(`--via: unknown ${v}`);
const runId = `b${Date.now().toString(36)}`;

const SCENARIOS = {
  A: { title: "1 conversation x 50 clients, 10 closed-loop senders (one in flight each, rotating devices)", rooms: 1, clients: 50, mode: "closed", senders: 10, rate: 0 },
  B: { title: "1 conversation x 50 clients, 200 msg/s open loop (5 senders x 40/s)", rooms: 1, clients: 50, mode: "rate", senders: 5, rate: 200 },
  C: { title: "100 conversations x 10 clients, 10 msg/s each (1,000 msg/s)", rooms: 100, clients: 10, mode: "rate", senders: 10, rate: 10 },
  D: { title: "2,000 sockets over 200 conversations: all open and ready", rooms: 200, clients: 10, mode: "none", senders: 0, rate: 0 },
  E: { title: "1,000 sockets in one conversation (999 members), 5 msg/s", rooms: 1, clients: 1_000, mode: "rate", senders: 5, rate: 5 },
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

const selected = list(args.only, "A,B,C,D,E").map((s) => s.toUpperCase());
for (const name of selected) if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}`);
const scenarios = selected.map((name) => {
  const base = { name, ...SCENARIOS[name], payload: 100, duration: name === "D" ? 0 : 10 };
  if (quick) {
    if (base.mode !== "none") base.duration = 3;
    if (name === "C") base.rooms = 20;
    if (name === "D") base.rooms = 50;
    if (name === "E") base.clients = 200;
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
  if (base.mode === "rate") base.senders = Math.min(base.senders, base.clients);
  if (quick || Object.values(o).some((v) => v !== undefined)) base.title += ` [${base.rooms} x ${base.clients}, ${base.mode}${base.mode === "rate" ? ` ${base.rate}/s per room` : ""}, ${base.duration} s]`;
  if (base.mode === "closed" && !rotate) base.title += " (one socket, no rotation)";
  // Search finds a run's messages by this word (scenario C's catch-up check).
  base.marker = `bm${runId}${name}`.toLowerCase();
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

// A run that hangs (a stack that stops answering) still ends, and cleans up, by itself.
const maxMinutes = num(args["max-minutes"], quick ? 30 : 120);
setTimeout(async () => {
  console.error(`\nthe run exceeded --max-minutes ${maxMinutes}: stopping`);
  await cleanup();
  process.exit(1);
}, maxMinutes * 60_000).unref();

const log = (line) => console.log(line);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 60_000).toFixed(1)} min`;

function versionOf(pkg) {
  try {
    return JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, "utf8")).version;
  } catch {
    return null;
  }
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
let presenceTenants = 0;

async function runOne(target, sc, tag) {
  if (sc.presence) {
    return runPresenceOne(target, sc, tag, {
      log, pushReceiver, profiler: target.profiled ? profiler : null, drain, late, pushWait, connectConcurrency, waitQuiet,
      stormQuiet: num(args["storm-quiet"], 3),
      tenantId: `${runId}-${tag}-${++presenceTenants}`.slice(0, 64),
    });
  }
  log(`\n[${sc.name}] ${target.name} (${elapsed()}): ${sc.title}`);
  const prepared = await target.prepare(sc, tag);
  if (prepared.seedSeconds) log(`  seeded ${sc.rooms * Math.min(sc.clients, 999)} users and ${sc.rooms} conversations in ${prepared.seedSeconds.toFixed(1)} s (${prepared.seedRequests} requests)`);
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
    marker: sc.marker,
    duration: sc.duration,
    drain,
    late,
    connectConcurrency,
    tag,
    probe: target.probe,
    afterLoad: sc.name === "C" ? prepared.afterLoad : undefined,
    ...(profiler && target.profiled
      ? { onLoadStart: () => profiler.start(), onLoadEnd: () => profiler.stop(`bench-results/${sc.name}-${target.key}.cpuprofile`) }
      : {}),
    log,
  });
  printProfile(sc, result, log);
  result.seedSeconds = prepared.seedSeconds;
  const l = result.load;
  const d = derived(result);
  if (l) {
    log(
      `  sent ${l.sent} (${fmt(l.sentPerSecond)}/s), deliveries ${l.deliveries} (${fmt(l.deliveriesPerSecond)}/s), ` +
        `p50/p99 ${fmt(l.latencyMs.p50, 2)}/${fmt(l.latencyMs.p99, 2)} ms, undelivered at +${drain} s ${l.undeliveredAtDrain}, lost ${l.lost}, dup ${l.duplicated}, ooo ${l.outOfOrder}, errors ${result.errorCount}` +
        (result.after ? `, mirror ${result.after.caughtUp ? `${fmt(result.after.sinceLastAckMs, 0)} ms` : "NOT caught up"}, search ${result.after.searchMs != null ? `${fmt(result.after.searchMs, 0)} ms` : "NOT caught up"}` : "") +
        `; server ${fmt(d.cpuMsPer1kDelivered, 0)} cpu ms/1k deliveries, ${fmt(d.cpuMsPer1kStored, 0)} per 1k stored; load generator ${fmt(result.cpu.loadgenPercent, 0)}% of a core`,
    );
  }
  log(`  memory: ${fmt(d.memKiBPerSocket, 1)} KiB per socket (runtime resident set, connected minus before)`);
  await sleep(500);
  return result;
}

// ---------- main ----------
async function main() {
  mkdirSync("bench-results", { recursive: true });
  const started = new Date();
  const vars = ensureDevVars("the benchmark");
  const adminToken = vars.ADMIN_TOKEN;
  const loadAtStart = loadavg();
  log(`machine load average at start: ${loadAtStart.map((x) => x.toFixed(2)).join(", ")} (${machineInfo().cpus} cores)`);

  const stacks = [];
  let served = null;
  for (const [i, state] of states.entries()) {
    const p = port + i;
    const ip = inspectorPort + i;
    await assertPortFree(p, `${state} stack`, PORT_HINT);
    const dir = join(tmpdir(), `switchboard-bench-${p}-${runId}`);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    served = snapshot({ dir, ref: args.ref, patch: args.apply });
    // State on disk: inside the snapshot under /tmp. In memory: a directory of our own on /dev/shm.
    const persistTo = state === "memory" ? `/dev/shm/switchboard-bench-${p}-${runId}` : ".wrangler/state";
    if (state === "memory") cleanups.push(() => rmSync(persistTo, { recursive: true, force: true }));
    log(`[${state}] serving a snapshot of the ${served.source} from ${dir}, state in ${state === "memory" ? persistTo : join(dir, persistTo)}`);
    const t = performance.now();
    const stack = await startStack({ cwd: dir, port: p, inspectorPort: ip, persistTo, logFile: `bench-results/wrangler-${p}-${runId}.log` });
    cleanups.push(() => stack.stop());
    ownPids.push(() => stack.all());
    stack.state = state;
    log(`[${state}] wrangler dev on 127.0.0.1:${p} up in ${((performance.now() - t) / 1000).toFixed(1)} s; runtime workerd pid ${stack.runtimePid} on ${stack.direct}`);
    if (vias.includes("direct") && !stack.direct) throw new Error(`${state} stack: the runtime's own port was not found`);
    stacks.push({ stack, inspectorPort: ip });
  }
  const targets = [];
  for (const { stack, inspectorPort: ip } of stacks) {
    for (const via of vias) {
      const target = switchboardTarget(stack, { adminToken, runId, via, base: via === "dev" ? stack.base : stack.direct, drain, late, log });
      if (args["cpu-profile"] && stack.state === (states.includes("memory") ? "memory" : states[0])) {
        profiler ??= await connectProfiler(ip);
        target.profiled = true;
      }
      targets.push(target);
    }
  }
  if (profiler) cleanups.push(() => profiler.close());
  const baseline = args["no-baseline"] || scenarios.every((sc) => sc.presence) ? null : await startBaseline(baselinePort, cleanups);
  if (baseline) {
    ownPids.push(() => [baseline.pid]);
    log(`bare ws baseline on 127.0.0.1:${baselinePort} (pid ${baseline.pid})`);
  }
  if (scenarios.some((sc) => sc.presence)) {
    pushReceiver = await startPushReceiver();
    cleanups.push(() => pushReceiver.close());
    log(`webhook push receiver on 127.0.0.1:${pushReceiver.port} (scenario P)`);
  }

  if (warmup > 0) {
    const wsc = { name: "warmup", title: `warm-up, ${warmup} s closed loop`, rooms: 1, clients: 10, mode: "closed", senders: 1, rate: 0, payload: 100, duration: warmup };
    for (const target of [...targets, baseline].filter(Boolean)) await runOne(target, wsc, `warm${target.key}`);
  }

  const probes = [];
  if (!args["no-probe"]) {
    const psc = { name: "probe", rooms: 1, clients: 50 };
    for (const target of [...targets, baseline].filter(Boolean)) {
      const prepared = await target.prepare(psc, `probe${probes.length}`);
      await prepared.beforeConnect();
      probes.push({ target: target.name, ...(await probeRoundTrips({ urls: prepared.rooms[0].urls, samples: 150, gapMs: 5, tag: `probe${probes.length}` })) });
    }
    const rows = [["target", "ping→pong p50", "p99", "typing→peer p50", "p99", "send→ack p50", "p99", "send→peer p50", "p99", "timeouts"]];
    for (const p of probes) rows.push([p.target, ...[p.ping, p.typing, p.sendAck, p.sendDelivery].flatMap((x) => [fmt(x.p50, 2), fmt(x.p99, 2)]), p.timeouts]);
    console.log(`\n=== Unloaded round trips on a 50-socket conversation (ms, ${probes[0]?.samples} each, one at a time)\n${table(rows)}`);
  }

  const results = [];
  const machine = { ...machineInfo(), node: process.version, wrangler: versionOf("wrangler"), workerd: versionOf("workerd"), ws: versionOf("ws"), served: served?.source };
  const out = args.out ?? `bench-results/bench-${started.toISOString().replace(/[:.]/g, "-")}.json`;
  const options = { ...args, port, baselinePort, states, vias, drain, late, warmup, rotate, connectConcurrency, repeat, pushWait };
  // Written after every scenario, so a run that stops half-way still leaves what it measured.
  const writeResults = (extra = {}) =>
    writeFileSync(out, JSON.stringify({ startedAt: started.toISOString(), machine, loadAtStart, options, probes, results, ...extra }, null, 2));
  for (const sc of scenarios) {
    const runs = Object.fromEntries([...targets, baseline].filter(Boolean).map((t) => [t.key, []]));
    for (let k = 0; k < repeat; k++) {
      if (repeat > 1) log(`\n--- ${sc.name}: run ${k + 1} of ${repeat}`);
      for (const target of targets) runs[target.key].push(await runOne(target, sc, `${sc.name}${target.key[0]}${target.via[1]}${k}`));
      if (baseline && !sc.presence) runs.bare.push(await runOne(baseline, sc, `${sc.name}b${k}`));
    }
    const rows = targets.map((t) => [t.key, median(sc, runs[t.key])]);
    const bare = baseline && !sc.presence ? median(sc, runs.bare) : null;
    const v = sc.presence
      ? rows.flatMap(([key, r]) => (r ? presenceVerdicts(sc, r).map((x) => ({ who: key, ...x })) : []))
      : verdicts(sc, rows, bare);
    results.push({ scenario: sc, rows, baseline: bare, verdicts: v, runs: repeat > 1 ? runs : undefined, derived: Object.fromEntries(rows.filter(([, r]) => r && !sc.presence).map(([key, r]) => [key, derived(r)])) });
    console.log(sc.presence ? presenceTable(sc, rows) : scenarioTable(sc, rows, bare));
    if (repeat > 1) {
      const spread = (l) => l.map((r) => fmt(keyOf(sc, r).value, keyOf(sc, r).digits)).join(", ");
      console.log(`median of ${repeat} runs by ${keyOf(sc, rows[0][1]).name}; all runs: ${Object.entries(runs).map(([key, l]) => `${key} ${spread(l)}`).join("; ")}`);
    }
    if (bare && !sc.presence) {
      console.log(`${ratioName(sc)}: ${rows.map(([key, r]) => `${key} ${r ? `${ratio(sc, r, bare).toFixed(2)}x` : "-"}`).join(", ")}`);
    }
    writeResults();
  }

  const summary = [["scenario", "target", "check", "goal", "measured", "met"]];
  for (const r of results) for (const v of r.verdicts) summary.push([r.scenario.name, v.who, v.what, v.target, v.measured, v.met === null ? "n/a" : v.met ? "yes" : "NO"]);
  console.log(`\n=== Targets (issue 10; ratios and latency targets judged on memory-backed state)\n${table(summary)}`);
  const loadAtEnd = loadavg();
  const minutes = (performance.now() - t0) / 60_000;
  console.log(`\n=== Markdown (docs/benchmarks.md)\n\n${markdownSummary(results)}\n`);
  console.log(
    `machine: ${machine.cpus} cores, load average at start ${loadAtStart.map((x) => x.toFixed(2)).join(", ")}, at end ${loadAtEnd.map((x) => x.toFixed(2)).join(", ")}; ` +
      `served ${machine.served}`,
  );
  writeResults({ loadAtEnd, minutes });
  console.log(`results: ${out}`);
  console.log(`the whole run took ${minutes.toFixed(1)} min`);
}

try {
  await main();
} catch (err) {
  console.error(`bench failed: ${err.stack ?? err.message}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
