// What the load runs against: a Switchboard stack through one of its two ports (wrangler dev's proxy, or the
// runtime's own entry), or one of the two floors: the bare Durable Object room (scripts/bench/baseline-do on
// the same runtime, through its own entry) and the bare `ws` broadcast server. Each target turns a scenario
// into socket urls and reports the CPU time and memory of its server processes.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { assertPortFree } from "../lib/stack.mjs";
import { bareDoCopy, PORT_HINT, startStack } from "./stack.mjs";
import { pool, seedTenant } from "./api.mjs";
import { cpuSeconds, rssBytes } from "../lib/proc.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Socket urls of a floor (no seeding, no auth): room r of a run is the path /<tag>/<r>. */
function floorRooms(wsBase, sc, tag) {
  return Array.from({ length: sc.rooms }, (_, r) => ({
    id: `${tag}/${r}`,
    urls: Array.from({ length: sc.clients }, (_, i) => `${wsBase}/${tag}/${r}?device=d${i}&after=0`),
  }));
}

/**
 * CPU and memory of a `wrangler dev` stack's processes, by part. server: the runtime's workerd (what is
 * measured); proxy: wrangler dev's proxy workerd; tooling: npx + wrangler's Node.
 */
function stackProbe(stack) {
  return () => {
    const all = stack.all();
    const workerd = stack.workerd();
    const runtime = stack.runtimePid ? workerd.filter((pid) => pid === stack.runtimePid) : workerd;
    const proxy = workerd.filter((pid) => pid !== stack.runtimePid);
    const tooling = all.filter((pid) => !workerd.includes(pid));
    const part = (pids) => ({ rssBytes: rssBytes(pids), cpuSeconds: cpuSeconds(pids) });
    return { server: part(runtime), proxy: part(proxy), tooling: part(tooling) };
  };
}

/** The bare `ws` server on `port`; its stop() goes onto `cleanups`. */
export async function startBaseline(port, cleanups) {
  await assertPortFree(port, "baseline", PORT_HINT);
  const child = spawn(process.execPath, ["scripts/bench/baseline-server.mjs", String(port)], { stdio: ["ignore", "pipe", "inherit"] });
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
    key: "bare",
    pid: child.pid,
    probe: () => ({ server: { rssBytes: rssBytes([child.pid]), cpuSeconds: cpuSeconds([child.pid]) } }),
    async prepare(sc, tag) {
      return { rooms: floorRooms(`ws://127.0.0.1:${port}`, sc, tag), beforeConnect: async () => 0, afterLoad: undefined, seedSeconds: 0 };
    },
  };
}

/**
 * The bare Durable Object room (scripts/bench/baseline-do): `wrangler dev` on `port` (and `inspectorPort`) from
 * a private copy in $TMPDIR, its state on /dev/shm, no D1. It is measured on the runtime's own entry only (what
 * production has: no dev proxy); its CPU and memory are the runtime workerd's. Cleanups (stop the process group,
 * delete the copy and the state) go onto `cleanups`.
 */
export async function startBareDo({ port, inspectorPort, runId, cleanups, log }) {
  await assertPortFree(port, "bare DO", PORT_HINT);
  await assertPortFree(inspectorPort, "bare DO inspector", PORT_HINT);
  const dir = join(tmpdir(), `switchboard-bench-baredo-${port}-${runId}`);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const copy = bareDoCopy(dir);
  if (copy.compatibilityDate !== copy.project) log(`[bare DO] note: compatibility_date ${copy.compatibilityDate} differs from the project's ${copy.project}`);
  const persistTo = `/dev/shm/switchboard-bench-baredo-${port}-${runId}`;
  cleanups.push(() => rmSync(persistTo, { recursive: true, force: true }));
  const started = performance.now();
  const stack = await startStack({ cwd: dir, port, inspectorPort, persistTo, logFile: `bench-results/wrangler-${port}-${runId}.log`, migrations: false });
  cleanups.push(() => stack.stop());
  if (!stack.direct) throw new Error("bare DO: the runtime's own port was not found");
  log(`[bare DO] wrangler dev on 127.0.0.1:${port} (from ${dir}, state in ${persistTo}) up in ${((performance.now() - started) / 1000).toFixed(1)} s; runtime workerd pid ${stack.runtimePid} on ${stack.direct}`);
  const wsBase = stack.direct.replace(/^http/, "ws");
  return {
    name: "bare DO · direct",
    key: "baredo-direct",
    via: "direct",
    base: stack.direct,
    stack,
    probe: stackProbe(stack),
    async prepare(sc, tag) {
      return { rooms: floorRooms(wsBase, sc, tag), beforeConnect: async () => 0, afterLoad: undefined, seedSeconds: 0 };
    },
  };
}

/**
 * One stack (its local state on disk or in memory) seen through one port. Both ports of a stack share its
 * seeded tenants: the second run of a scenario on the same stack reuses the first one's tenant and joins
 * after the messages already there, so seeding (thousands of HTTP calls) is paid once per stack.
 */
export function switchboardTarget(stack, { adminToken, runId, via, base, drain, late, log }) {
  const wsBase = base.replace(/^http/, "ws");
  stack.seeded ??= new Map();
  return {
    name: `${stack.state} · ${via}`,
    key: `${stack.state}-${via}`,
    state: stack.state,
    via,
    base,
    adminToken,
    // server: the runtime's workerd (the product); proxy: wrangler dev's proxy workerd; tooling: npx + wrangler's Node.
    probe: stackProbe(stack),
    async prepare(sc, tag) {
      const started = performance.now();
      let seeded = stack.seeded.get(sc.name);
      const fresh = !seeded;
      if (fresh) {
        const users = Math.min(sc.clients, 999);
        seeded = await seedTenant({ base, adminToken, tenantId: `${runId}-${stack.state}-${sc.name}`.slice(0, 64), rooms: sc.rooms, clientsPerRoom: users });
        stack.seeded.set(sc.name, seeded);
      }
      const seedSeconds = (performance.now() - started) / 1000;
      // Join after what is already in the conversation (system events of a big group's creation, earlier
      // runs' messages): a run counts only its own messages, and asks for no replay. The conversation
      // object is asked, not the D1 listing: the mirror may still be up to a second behind the last run.
      const lastSeq = new Map();
      for (const room of seeded.rooms) lastSeq.set(room.id, (await seeded.api.call("GET", `/v1/conversations/${room.id}`)).lastSeq);
      const rooms = seeded.rooms.map((room) => ({
        id: room.id,
        // More sockets than members (scenario E): the extra ones are further devices of the first members.
        urls: Array.from({ length: sc.clients }, (_, i) => {
          const u = room.users[i % room.users.length];
          return `${wsBase}/v1/conversations/${room.id}/ws?token=${encodeURIComponent(u.token)}&after=${lastSeq.get(room.id) ?? 0}&device=${tag}d${i}`;
        }),
      }));
      const sockets = sc.rooms * sc.clients;
      return {
        rooms,
        seedSeconds: fresh ? seedSeconds : 0,
        seedRequests: fresh ? seeded.api.requests : 0,
        // The upgrades count against the tenant's 3000 requests / 10 s: start them in a window that has room.
        beforeConnect: async () => seeded.api.pacer.fresh(Math.min(sockets, 2_800)),
        afterLoad: (info) => catchUp(seeded.api, info, { drain, late, marker: sc.marker, log }),
      };
    },
  };
}

/**
 * How long after the last ack D1 had every message: the conversation rows (`lastSeq` in the list), and
 * search (the newest hit of this run's marker word in each conversation). Both are polled from the last
 * ack on, side by side: search in rounds over the conversations it has not found yet (10 requests in
 * flight), so a conversation counts as caught up when the answer that found its last message arrived (an
 * upper bound, by at most one round over the conversations still missing).
 */
async function catchUp(api, { rooms, lastAckAt }, { drain, late, marker }) {
  const want = new Map(rooms.map((r) => [r.id, r.maxAcked]));
  const deadline = performance.now() + (drain + late) * 1000;
  let polls = 0;
  let mirrorMs = null;
  let behind = want.size;
  const mirror = (async () => {
    while (performance.now() < deadline) {
      const { conversations } = await api.call("GET", "/v1/conversations?limit=500");
      polls++;
      const now = performance.now();
      const lastSeq = new Map(conversations.map((c) => [c.id, c.lastSeq]));
      behind = [...want].filter(([id, seq]) => (lastSeq.get(id) ?? -1) < seq).length;
      if (behind === 0) {
        mirrorMs = now - lastAckAt;
        return;
      }
      await sleep(20);
    }
  })();
  const waiting = new Set(want.keys());
  let latest = 0;
  const search = (async () => {
    if (!marker) return;
    while (waiting.size > 0 && performance.now() < deadline) {
      await pool([...waiting], 10, async (id) => {
        // A capped page (the window of matches ran out before a hit) continues at its cursor, as a client would.
        let res = await api.call("GET", `/v1/search/messages?q=${marker}&conversationId=${id}&limit=1`);
        polls++;
        for (let page = 0; res.hits.length === 0 && res.capped && res.nextCursor && page < 50; page++) {
          res = await api.call("GET", `/v1/search/messages?q=${marker}&conversationId=${id}&limit=1&cursor=${res.nextCursor}`);
          polls++;
        }
        if ((res.hits[0]?.message.seq ?? -1) >= want.get(id)) {
          waiting.delete(id);
          latest = Math.max(latest, performance.now());
        }
      });
      if (waiting.size > 0) await sleep(20);
    }
  })();
  await Promise.all([mirror, search]);
  if (mirrorMs === null) return { caughtUp: false, sinceLastAckMs: null, searchMs: null, polls, behind };
  const searchMs = marker && waiting.size === 0 ? Math.max(mirrorMs, latest - lastAckAt) : null;
  return { caughtUp: true, sinceLastAckMs: mirrorMs, searchMs, searchBehind: waiting.size, polls };
}
