// A rough CPU profile of the Worker isolate (the Worker and its Durable Objects run there) through the
// DevTools protocol that `wrangler dev` exposes on its inspector port.
import WebSocket from "ws";
import { writeFileSync } from "node:fs";

export async function connectProfiler(inspectorPort) {
  const list = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const url = list[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error("no inspector target");
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let id = 0;
  const waiting = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(data);
    if (msg.id !== undefined && waiting.has(msg.id)) {
      const { resolve, reject } = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.error) reject(new Error(msg.error.message));
      else resolve(msg.result);
    }
  });
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const n = ++id;
      waiting.set(n, { resolve, reject });
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 200 });
  return {
    start: () => call("Profiler.start"),
    async stop(file) {
      const { profile } = await call("Profiler.stop");
      if (file) writeFileSync(file, JSON.stringify(profile));
      return summarize(profile);
    },
    close: () => ws.close(),
  };
}

/**
 * Self time by function, as percent of the profiled wall time ("(idle)" is time the isolate waited), and the
 * same time charged to the nearest function of the Worker's own bundle: a native call such as `exec` (SQLite)
 * or `send` (WebSocket) is then seen under the function of ours that made it.
 */
export function summarize(profile, top = 25) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (f) => {
    const file = f.url ? f.url.split("/").pop() : "";
    return `${f.functionName || "(anonymous)"}${file ? ` ${file}:${f.lineNumber + 1}` : ""}`;
  };
  const isOurs = (f) => /(^|\/)index\.js$/.test(f.url) && f.functionName !== "";
  const self = new Map();
  const charged = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]);
    const key = label(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + dt);
    let owner = node;
    while (owner && !isOurs(owner.callFrame) && parent.has(owner.id)) owner = byId.get(parent.get(owner.id));
    const ownerKey = owner && isOurs(owner.callFrame) ? `${label(owner.callFrame)}${owner === node ? "" : ` [+ ${node.callFrame.functionName || "native"}]`}` : key;
    charged.set(ownerKey, (charged.get(ownerKey) ?? 0) + dt);
    total += dt;
  }
  const idle = self.get("(idle)") ?? 0;
  const rows = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([fn, us]) => ({ fn, ms: us / 1000, percentOfWall: (100 * us) / total, percentOfBusy: fn === "(idle)" ? null : (100 * us) / (total - idle) }));
  return { wallMs: total / 1000, busyPercent: (100 * (total - idle)) / total, top: rows(self), byOurCaller: rows(charged) };
}
