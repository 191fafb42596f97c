#!/usr/bin/env node
// Chaos test against the local stack as `npm start` serves it (see README, "Chaos test").
//
//   npm run chaos                     short form (CI): under ~2 minutes, one restart, one idle period
//   npm run chaos -- --long           long form: at least 100,000 deliveries, a restart and an idle per round
//   CHAOS_SEED=123 npm run chaos      the same random plan again (also --seed 123)
//
// Options: --long, --seed N, --port N (default 8810; the inspector uses port + 1000), --deliveries N
// (long form target, default 100000), --keep (keep the state directory), --fault drop|duplicate|reorder
// (the clients break deliveries on purpose, to show the checks catch it). Env: CHAOS_SEED, CHAOS_LONG=1,
// CHAOS_PORT. Talks to 127.0.0.1 only. Exits non-zero on any failed check; the last line is
// "N passed, M failed".
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freshSeed, parseSeed, Rng } from "./chaos/rng.mjs";
import { makePlan } from "./chaos/plan.mjs";
import { prepareSnapshot, Stack } from "./chaos/stack.mjs";
import { portFree } from "./lib/stack.mjs";
import { Stats } from "./chaos/ledger.mjs";
import { ChaosRun } from "./chaos/run.mjs";
import { printReport } from "./chaos/report.mjs";

if (!process.features.typescript) {
  console.error(`chaos needs Node 24+ (it loads the TypeScript SDK directly); this is Node ${process.versions.node}. Use: npm run chaos`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      long: { type: "boolean", default: false },
      seed: { type: "string" },
      port: { type: "string" },
      deliveries: { type: "string" },
      keep: { type: "boolean", default: false },
      fault: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  }).values;
} catch (err) {
  console.error(`${err.message}\nusage: npm run chaos [-- --long] [--seed N] [--port N] [--deliveries N] [--keep] [--fault drop|duplicate|reorder]`);
  process.exit(2);
}
if (args.help) {
  console.log("usage: npm run chaos [-- --long] [--seed N] [--port N] [--deliveries N] [--keep] [--fault drop|duplicate|reorder]\nSee README.md, section \"Chaos test\".");
  process.exit(0);
}

const long = args.long || process.env.CHAOS_LONG === "1";
const seed = parseSeed(args.seed ?? process.env.CHAOS_SEED) ?? freshSeed();
const port = Number(args.port ?? process.env.CHAOS_PORT ?? 8810);
const minDeliveries = Number(args.deliveries ?? 100_000);
if (!Number.isInteger(port) || port < 1024 || port > 64_535) throw new Error(`--port must be 1024..64535, got ${port}`);
if (!Number.isInteger(minDeliveries) || minDeliveries < 1) throw new Error(`--deliveries must be a positive integer`);
if (args.fault !== undefined && !["drop", "duplicate", "reorder"].includes(args.fault)) throw new Error("--fault must be drop, duplicate or reorder");

const { ConversationClient } = await import("../src/client/index.ts");
const plan = makePlan({ long, minDeliveries });
const rng = new Rng(seed);
const stats = new Stats();
// --fault: the clients drop, repeat or swap about 1 in 50 message frames as if the server had, so a run
// shows that the checks catch each kind of broken delivery (such a run must fail).
const faultRng = new Rng((seed ^ 0x5bd1e995) >>> 0 || 1);
const fault = args.fault && { kind: args.fault, strike: () => faultRng.chance(0.02) };
const began = Date.now();
const log = (line) => console.log(`[${((Date.now() - began) / 1000).toFixed(1).padStart(6)} s] ${line}`);

console.log(`chaos test, ${plan.name} form, seed ${seed} (reproduce the plan: CHAOS_SEED=${seed} npm run chaos${long ? " -- --long" : ""})`);
if (fault) console.log(`fault injected on purpose: the clients ${fault.kind} about 1 in 50 message frames; this run must fail`);

const dir = mkdtempSync(join(tmpdir(), "switchboard-chaos-"));
let stack;
let run;
let cleaned = false;

/** Stop every client and every process this run started. Safe to call twice. */
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const d of run?.devices ?? []) {
    d.stopTraffic();
    d.close();
  }
  for (const s of run?.senders ?? []) s.traffic = false;
  if (stack) {
    await stack.shutdown();
    stack.close();
  }
}

function removeDir(keep) {
  if (keep) console.log(`state, snapshot and wrangler log kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

process.on("exit", () => stack?.killNow());
/** Set on Ctrl-C (or SIGTERM): the handler cleans up and exits; the main flow only waits for it. */
let interrupted;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the clients and the stack`);
    interrupted = cleanup().finally(() => {
      removeDir(args.keep);
      console.log("interrupted before the checks\n0 passed, 1 failed");
      process.exit(130);
    });
  });
}
process.on("unhandledRejection", (err) => {
  console.error(`unexpected error: ${err?.stack ?? err}`);
  void cleanup().finally(() => process.exit(1));
});
const watchdog = setTimeout(() => {
  console.error(`the run exceeded its time bound of ${plan.maxRunMs / 60_000} minutes`);
  run?.check("the run finishes within its time bound", false, `${plan.maxRunMs / 60_000} minutes`);
  void cleanup().finally(() => {
    printReport({ plan, seed, stats, run, began, log: console.log });
    removeDir(true);
    process.exit(1);
  });
}, plan.maxRunMs);

let failure;
try {
  if (!(await portFree(port)) || !(await portFree(port + 1000))) throw new Error(`port ${port} or ${port + 1000} is in use; pick another with --port`);
  const snapshot = prepareSnapshot(dir);
  stack = new Stack({ app: snapshot.app, state: snapshot.state, port, inspectorPort: port + 1000, logFile: join(dir, "wrangler.log") });
  log(`starting the stack on ${stack.base} (state in ${snapshot.state})`);
  await stack.migrate();
  const startMs = await stack.start();
  log(`stack up in ${(startMs / 1000).toFixed(1)} s`);
  run = new ChaosRun({ plan, rng, stack, adminToken: snapshot.adminToken, stats, ConversationClient, log, fault });
  run.figures.firstStartMs = startMs;
  await run.setup();
  log(`${run.devices.length} devices and ${run.senders.length} HTTP senders in ${run.ledgers.length} conversations`);
  await run.rounds(began + plan.maxRunMs - 60_000);
  log("draining: no new sends, waiting for every ack and delivery");
  await run.drain();
  log("checking history, deliveries, the D1 mirror and search");
  await run.verify(rng.fork());
} catch (err) {
  if (interrupted) await interrupted;
  failure = err;
  console.error(`run failed: ${err.stack ?? err}`);
  if (stack) console.error(`last lines of the stack's log:\n${stack.tail(25)}`);
}

if (interrupted) await interrupted;
const checks = run?.checks ?? [];
if (failure) checks.push({ name: "the run completes", ok: false, detail: String(failure.message ?? failure) });
const restartsWanted = 1;
checks.push({ name: "the whole stack was restarted mid-run on the same state", ok: stats.restarts >= restartsWanted, detail: `${stats.restarts} restarts` });
const idles = run?.figures.idles ?? [];
checks.push({ name: "an idle period long enough for the objects to hibernate (> 10 s)", ok: idles.some((ms) => ms > 10_000), detail: idles.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(", ") || "none" });
if (long) checks.push({ name: `at least ${minDeliveries.toLocaleString("en-US")} deliveries`, ok: stats.deliveries >= minDeliveries, detail: stats.deliveries.toLocaleString("en-US") });
const protocol = [...stats.violations].filter(([kind]) => !kind.startsWith("duplicated delivery") && !kind.startsWith("out-of-order delivery"));
checks.push({
  name: "frames, acks and answers follow the protocol (no error frame, no refused upgrade, one seq per clientId)",
  ok: protocol.length === 0,
  detail: protocol.map(([kind, v]) => `${kind}: ${v.count} (e.g. ${v.examples[0]})`).join("; "),
});

clearTimeout(watchdog);
await cleanup();
const leftovers = stack ? [...stack.tree] : [];
const free = await portFree(port);
checks.push({ name: "every process the run started has exited and the port is free", ok: leftovers.length === 0 && free, detail: leftovers.length ? `still running: ${leftovers.join(", ")}` : free ? "" : `port ${port} still in use` });

const failed = printReport({ plan, seed, stats, run, began, log: console.log, checks });
removeDir(args.keep || failed > 0);
process.exit(failed > 0 ? 1 : 0);
