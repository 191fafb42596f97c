// The machine the search benchmark runs on: what it is, and which other stacks or benchmarks share it.
import { readdirSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { cmdline } from "../lib/proc.mjs";

/** Processes of other local stacks or benchmarks (for the notes: the machine is shared); `dir` is ours. */
export function otherLoad(ownPid, dir) {
  const own = new Set([process.pid, ownPid]);
  const others = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || own.has(Number(name))) continue;
    const cmd = cmdline(name);
    if (/workerd serve|wrangler.* dev|bench\.mjs|vitest|tsc /.test(cmd) && !cmd.includes(dir)) others.push(cmd.slice(0, 140));
  }
  return others;
}

export function machine() {
  const c = cpus();
  return { cpu: c[0]?.model ?? "unknown", cores: c.length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}
