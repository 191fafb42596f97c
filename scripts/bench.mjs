#!/usr/bin/env node
// npm run bench [-- options]: drive the Switchboard stack over real WebSockets and, in the same run, two floors
// with the same workload shape: a bare Durable Object chat room on the same runtime (scripts/bench/baseline-do,
// `wrangler dev` on its own port, measured on the runtime's own port: what the runtime itself costs) and a bare
// Node `ws` broadcast server. Every scenario runs against two stacks of the same code, one keeping the
// runtime's local state on disk and one on a memory file system (/dev/shm), each through wrangler's dev port
// and through the runtime's own port: four figures per scenario, then the bare DO room's and the bare ws
// server's, all compared with the bare ws server measured in the same run. See docs/benchmarks.md.
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
import { startBareDo, startBaseline, switchboardTarget } from "./bench/targets.mjs";
import { derived, keyOf, markdownSummary, median, ratio, ratioName, scenarioTable, verdicts } from "./bench/report.mjs";
import { HELP, parseArgs, selectScenarios, settings } from "./bench/options.mjs";

// ---------- options ----------
const args = parseArgs(process.argv.slice(2));
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const { port, baselinePort, bareDoPort, inspectorPort, quick, drain, late, warmup, connectConcurrency, rotate, repeat, quietPercent, quietWaitMs, pushWait, states, vias, maxMinutes, stormQuiet } =
  settings(args);
const runId = `b${Date.now().toString(36)}`;
const scenarios = selectScenarios(args, { quick, rotate, runId });

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
      stormQuiet,
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
  // The floors (not for P, which has no counterpart): the bare DO room, then the bare ws server.
  const floors = !args["no-baseline"] && scenarios.some((sc) => !sc.presence);
  const bareDo = floors && !args["no-bare-do"] ? await startBareDo({ port: bareDoPort, inspectorPort: inspectorPort + 2, runId, cleanups, log }) : null;
  if (bareDo) ownPids.push(() => bareDo.stack.all());
  const baseline = floors ? await startBaseline(baselinePort, cleanups) : null;
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
    for (const target of [...targets, bareDo, baseline].filter(Boolean)) await runOne(target, wsc, `warm${target.key}`);
  }

  const probes = [];
  if (!args["no-probe"]) {
    const psc = { name: "probe", rooms: 1, clients: 50 };
    for (const target of [...targets, bareDo, baseline].filter(Boolean)) {
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
  const options = { ...args, port, baselinePort, bareDoPort: bareDo ? bareDoPort : null, states, vias, drain, late, warmup, rotate, connectConcurrency, repeat, pushWait };
  // Written after every scenario, so a run that stops half-way still leaves what it measured.
  const writeResults = (extra = {}) =>
    writeFileSync(out, JSON.stringify({ startedAt: started.toISOString(), machine, loadAtStart, options, probes, results, ...extra }, null, 2));
  for (const sc of scenarios) {
    const floor = bareDo && !sc.presence ? bareDo : null;
    const runs = Object.fromEntries([...targets, floor, baseline].filter(Boolean).map((t) => [t.key, []]));
    for (let k = 0; k < repeat; k++) {
      if (repeat > 1) log(`\n--- ${sc.name}: run ${k + 1} of ${repeat}`);
      for (const target of targets) runs[target.key].push(await runOne(target, sc, `${sc.name}${target.key[0]}${target.via[1]}${k}`));
      if (floor) runs[floor.key].push(await runOne(floor, sc, `${sc.name}o${k}`));
      if (baseline && !sc.presence) runs.bare.push(await runOne(baseline, sc, `${sc.name}b${k}`));
    }
    // The Switchboard rows, then the bare DO room's (a row of the tables and the JSON, never judged).
    const judged = targets.map((t) => [t.key, median(sc, runs[t.key])]);
    const rows = floor ? [...judged, [floor.key, median(sc, runs[floor.key])]] : judged;
    const bare = baseline && !sc.presence ? median(sc, runs.bare) : null;
    const v = sc.presence
      ? judged.flatMap(([key, r]) => (r ? presenceVerdicts(sc, r).map((x) => ({ who: key, ...x })) : []))
      : verdicts(sc, judged, bare);
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
