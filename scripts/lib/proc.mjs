// /proc helpers for the scripts that start local stacks: find a process tree, its workerd processes, their
// listening ports, memory and CPU time.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

const CLK_TCK = 100; // `getconf CLK_TCK` on Linux x86_64/arm64

/** A file's text, or undefined when it cannot be read (e.g. the process is gone). */
export function readText(path) {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** { pid, ppid, utime+stime ticks } of a process, or undefined when it is gone. */
function stat(pid) {
  const text = readText(`/proc/${pid}/stat`);
  if (!text) return undefined;
  // The command name is in parentheses and may itself contain spaces or parentheses.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
  return { pid, state: rest[0], ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
}

/** Every live descendant of `root` (not `root` itself). */
export function descendants(root) {
  const children = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (!s) continue;
    if (!children.has(s.ppid)) children.set(s.ppid, []);
    children.get(s.ppid).push(s.pid);
  }
  const out = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift();
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

export function cmdline(pid) {
  return (readText(`/proc/${pid}/cmdline`) ?? "").replace(/\0/g, " ").trim();
}

/** The workerd processes started under `root` (only ours: another stack on this machine is not counted). */
export function workerdPids(root) {
  return descendants(root).filter((pid) => /(^|\/)workerd$/.test(cmdline(pid).split(" ")[0]));
}

/** Resident set size in bytes, summed over `pids` (gone processes count 0). */
export function rssBytes(pids) {
  let kb = 0;
  for (const pid of pids) {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readText(`/proc/${pid}/status`) ?? "");
    if (m) kb += Number(m[1]);
  }
  return kb * 1024;
}

/** CPU time (user + system, all threads) in seconds, summed over `pids`. */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) ticks += stat(pid)?.ticks ?? 0;
  return ticks / CLK_TCK;
}

export function alive(pid) {
  const s = stat(pid);
  return s !== undefined && s.state !== "Z" && s.state !== "X";
}

export function machineInfo() {
  const cpuinfo = readText("/proc/cpuinfo") ?? "";
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length;
  const memKb = Number(/MemTotal:\s+(\d+)/.exec(readText("/proc/meminfo") ?? "")?.[1] ?? 0);
  return { cpuModel: model, cpus: cores, memTotalMiB: Math.round(memKb / 1024), kernel: (readText("/proc/sys/kernel/osrelease") ?? "").trim() };
}

/** TCP ports `pid` listens on (IPv4 and IPv6). */
export function listeningPorts(pid) {
  const inodes = new Set();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        // fd closed meanwhile
      }
    }
  } catch {
    return [];
  }
  const ports = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of (readText(file) ?? "").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === "0A" && inodes.has(f[9])) ports.push(parseInt(f[1].split(":").pop(), 16));
    }
  }
  return ports;
}

/** CPU time the whole machine spent busy (all cores, everything but idle and iowait), in seconds. */
export function machineBusySeconds() {
  const f = (readText("/proc/stat") ?? "").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) / CLK_TCK;
}
