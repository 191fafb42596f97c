// Figures derived from a run, the targets of issue 10 and the tables `npm run bench` prints.
import { fmt, table } from "./stats.mjs";

/** Targets, judged on memory-backed state (the disk does not decide); lost/dup/ooo everywhere. */
export const TARGETS = {
  A: { deliveriesRatio: 0.45, via: ["dev"] },
  B: { p99Ms: 15 },
  C: { p99Ms: { direct: 25, dev: 100 }, undelivered: 0, catchUpMs: 2_000 },
  D: { timeRatio: 5 },
  E: { p99Ms: 100 },
};

/** Per-scenario figures of one result: CPU per 1,000 messages, memory per socket, the loadgen's share. */
export function derived(r) {
  const l = r.load;
  const cpu = (part) => r.cpuSeconds?.[part] ?? null;
  const per = (sec, n) => (sec === null || !n ? null : (sec * 1000 * 1000) / n);
  const mem = r.memory.server;
  return {
    serverCpuSeconds: cpu("server"),
    cpuMsPer1kDelivered: l ? per(cpu("server"), l.deliveries) : null,
    cpuMsPer1kStored: l ? per(cpu("server"), l.acked) : null,
    proxyCpuMsPer1kDelivered: l && cpu("proxy") !== null ? per(cpu("proxy"), l.deliveries) : null,
    memKiBPerSocket: mem && mem.connectedBytes && mem.beforeBytes ? (mem.connectedBytes - mem.beforeBytes) / 1024 / r.sockets : null,
    connectCpuMsPerSocket: r.connectCpuSeconds?.server !== undefined ? (r.connectCpuSeconds.server * 1000) / r.sockets : null,
  };
}

/** The figure a scenario is judged by (for medians of repeated runs and for ratios). */
export function keyOf(sc, r) {
  if (sc.presence) return { name: "notify p99", value: r.notify.latencyMs.p99 ?? Infinity, digits: 2 };
  if (!r.load) return { name: "setup seconds", value: r.connect.seconds, digits: 2 };
  if (sc.mode === "closed") return { name: "deliveries/s", value: r.load.deliveriesPerSecond, digits: 0 };
  return { name: "p99 latency", value: r.load.latencyMs.p99 ?? Infinity, digits: 2 };
}

export function median(sc, list) {
  if (!list || list.length === 0) return null;
  const sorted = [...list].sort((a, b) => keyOf(sc, a).value - keyOf(sc, b).value);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** Ratio to the bare server: deliveries/s for closed loops, setup time for D, p99 otherwise. */
export function ratio(sc, r, bare) {
  if (!r || !bare) return null;
  if (!r.load) return r.connect.seconds / bare.connect.seconds;
  if (sc.mode === "closed") return r.load.deliveriesPerSecond / bare.load.deliveriesPerSecond;
  return (r.load.latencyMs.p99 ?? NaN) / (bare.load.latencyMs.p99 ?? NaN);
}
export const ratioName = (sc) => (sc.mode === "none" ? "setup time ÷ bare" : sc.mode === "closed" ? "deliv/s ÷ bare" : "p99 ÷ bare");

export function verdicts(sc, rows, bare) {
  const out = [];
  const add = (who, what, target, measured, met) => out.push({ who, what, target, measured, met });
  const t = TARGETS[sc.name] ?? {};
  for (const [key, r] of rows) {
    if (!r) continue;
    const [state, via] = key.split("-");
    const l = r.load;
    if (l) {
      add(key, "lost / duplicated / out-of-order", "0 / 0 / 0", `${l.lost} / ${l.duplicated} / ${l.outOfOrder}`, l.lost === 0 && l.duplicated === 0 && l.outOfOrder === 0);
      add(key, "error frames, unacked sends", "0", `${r.errorCount}${r.errorCount ? " " + JSON.stringify(r.errors) : ""}`, r.errorCount === 0);
    } else {
      add(key, "connect errors", "0", String(r.errorCount), r.errorCount === 0);
    }
    if (state !== "memory") continue;
    if (t.deliveriesRatio !== undefined && (!t.via || t.via.includes(via))) {
      const x = ratio(sc, r, bare);
      add(key, "deliveries/s vs bare ws", `>= ${t.deliveriesRatio}x`, x === null ? "no baseline" : `${x.toFixed(3)}x`, x === null ? null : x >= t.deliveriesRatio);
    }
    if (t.p99Ms !== undefined && l) {
      const limit = typeof t.p99Ms === "number" ? t.p99Ms : t.p99Ms[via];
      add(key, "p99 delivery latency", `< ${limit} ms`, `${fmt(l.latencyMs.p99, 2)} ms`, l.latencyMs.p99 !== null && l.latencyMs.p99 < limit);
    }
    if (t.undelivered !== undefined && l) {
      add(key, `undelivered ${l.drainWindowSeconds} s after the load`, "0", String(l.undeliveredAtDrain), l.undeliveredAtDrain === 0);
    }
    if (t.catchUpMs !== undefined && r.after) {
      const a = r.after;
      add(key, "D1 mirror caught up after last ack", `< ${t.catchUpMs} ms`, a.caughtUp ? `${fmt(a.sinceLastAckMs, 0)} ms` : "not caught up", a.caughtUp && a.sinceLastAckMs < t.catchUpMs);
      add(key, "search caught up after last ack", `< ${t.catchUpMs} ms`, a.searchMs !== null && a.searchMs !== undefined ? `${fmt(a.searchMs, 0)} ms` : "not caught up", a.searchMs != null && a.searchMs < t.catchUpMs);
    }
    if (t.timeRatio !== undefined) {
      const x = ratio(sc, r, bare);
      add(key, `${r.sockets} sockets open and ready, time vs bare ws`, `<= ${t.timeRatio}x`, x === null ? `${r.connect.seconds.toFixed(2)} s, no baseline` : `${r.connect.seconds.toFixed(2)} s = ${x.toFixed(2)}x`, x === null ? null : x <= t.timeRatio);
    }
  }
  return out;
}

export function scenarioTable(sc, rows, bare) {
  const header = [
    "target", "sockets", "setup s", "sent/s", "deliv/s", "p50 ms", "p99 ms", "max ms", ratioName(sc), "ack p99", "undeliv@drain", "lost", "dup", "ooo", "err",
    "cpu ms/1k deliv", "cpu ms/1k stored", "KiB/socket", "srv cpu%", "proxy%", "gen cpu%", "other%", "mirror ms", "search ms",
  ];
  const lines = [header];
  for (const [name, r] of [...rows, ["bare ws", bare]]) {
    if (!r) continue;
    const l = r.load;
    const d = derived(r);
    const x = name === "bare ws" ? null : ratio(sc, r, bare);
    lines.push([
      name,
      r.sockets,
      fmt(r.connect.seconds, 2),
      l ? fmt(l.sentPerSecond, 0) : "-",
      l ? fmt(l.deliveriesPerSecond, 0) : "-",
      l ? fmt(l.latencyMs.p50, 2) : fmt(r.connect.readyLatencyMs.p50, 1),
      l ? fmt(l.latencyMs.p99, 2) : fmt(r.connect.readyLatencyMs.p99, 1),
      l ? fmt(l.latencyMs.max, 1) : fmt(r.connect.readyLatencyMs.max, 1),
      x === null ? "-" : `${x.toFixed(2)}x`,
      l ? fmt(l.ackLatencyMs.p99, 2) : "-",
      l ? l.undeliveredAtDrain : "-",
      l ? l.lost : "-",
      l ? l.duplicated : "-",
      l ? l.outOfOrder : "-",
      r.errorCount,
      fmt(d.cpuMsPer1kDelivered, 0),
      fmt(d.cpuMsPer1kStored, 0),
      fmt(d.memKiBPerSocket, 1),
      l ? fmt(r.cpu.serverPercent, 0) : "-",
      l && r.cpu.proxyPercent !== undefined ? fmt(r.cpu.proxyPercent, 0) : "-",
      l ? fmt(r.cpu.loadgenPercent, 0) : "-",
      l ? fmt(r.cpu.otherPercent, 0) : "-",
      r.after ? (r.after.caughtUp ? fmt(r.after.sinceLastAckMs, 0) : "NO") : "-",
      r.after ? (r.after.searchMs != null ? fmt(r.after.searchMs, 0) : "NO") : "-",
    ]);
  }
  const note =
    (sc.mode === "none" ? "  (latency columns: handshake → ready per socket; cpu ms per socket opened: see JSON)" : "") +
    "\n  cpu ms/1k: the runtime's CPU time (its workerd process, all threads) over the load and drain per 1,000 deliveries / messages stored;" +
    "\n  KiB/socket: the runtime's resident memory with every socket open minus before connecting, per socket; gen cpu%: this load generator";
  return `\n=== ${sc.name}: ${sc.title}\n${note}\n${table(lines)}`;
}

/** One Markdown table of every scenario and combination: what docs/benchmarks.md shows. */
export function markdownSummary(results) {
  const rows = [["scenario", "target", "sockets", "setup s", "deliv/s", "p50 ms", "p99 ms", "vs bare", "undelivered @+drain", "lost/dup/ooo", "cpu ms / 1k deliv", "cpu ms / 1k stored", "KiB / socket", "loadgen cpu%", "mirror / search ms"]];
  for (const res of results) {
    const sc = res.scenario;
    if (sc.presence) continue;
    for (const [name, r] of [...res.rows, ["bare ws", res.baseline]]) {
      if (!r) continue;
      const l = r.load;
      const d = derived(r);
      const x = name === "bare ws" ? null : ratio(sc, r, res.baseline);
      rows.push([
        sc.name,
        name,
        r.sockets,
        fmt(r.connect.seconds, 2),
        l ? fmt(l.deliveriesPerSecond, 0) : "-",
        l ? fmt(l.latencyMs.p50, 2) : "-",
        l ? fmt(l.latencyMs.p99, 2) : "-",
        x === null ? "-" : `${x.toFixed(2)}x ${sc.mode === "none" ? "time" : sc.mode === "closed" ? "deliv/s" : "p99"}`,
        l ? l.undeliveredAtDrain : "-",
        l ? `${l.lost}/${l.duplicated}/${l.outOfOrder}` : "-",
        fmt(d.cpuMsPer1kDelivered, 0),
        fmt(d.cpuMsPer1kStored, 0),
        fmt(d.memKiBPerSocket, 1),
        l ? fmt(r.cpu.loadgenPercent, 0) : "-",
        r.after ? `${r.after.caughtUp ? fmt(r.after.sinceLastAckMs, 0) : "NO"} / ${r.after.searchMs != null ? fmt(r.after.searchMs, 0) : "NO"}` : "-",
      ]);
    }
  }
  return [`| ${rows[0].join(" | ")} |`, `|${rows[0].map(() => "---").join("|")}|`, ...rows.slice(1).map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

