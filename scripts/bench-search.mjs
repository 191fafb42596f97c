#!/usr/bin/env node
// Search benchmark: one tenant, N messages (mixed English and Chinese) mirrored into local D1, then search
// latency (3+ character terms on the trigram index, 2-character CJK terms on the grams index) and the
// mirror's throughput into D1. Runs its own `wrangler dev` (default port 8793) on a private snapshot of
// the project and a private persist directory; nothing of another local stack is touched.
//
//   npm run bench:search                      # 1,000,000 messages (about 6 minutes on 2 cores)
//   npm run bench:search -- --messages 100000 # quick run (about 1-2 minutes)
//   npm run bench:search -- --help
//
// Results: tables on stdout (also as Markdown), everything in bench-results/search-<time>.json. Writeup and
// findings: docs/benchmarks.md, section "Search".
//
// What is measured:
//   mirror (bulk)     the corpus goes into D1 through the server's own mirror code (bench entry, see
//                     scripts/bench-search/entry.ts): per conversation backlog, flush after flush of up to
//                     2,000 messages / MIRROR_MESSAGE_BYTES, each flush one DB.batch(mirrorStatements(...)) exactly as a
//                     conversation object's outbox writes it (json_each INSERT, FTS triggers). Two backlogs
//                     in flight (two conversation objects). messages/s = rows / wall time.
//   mirror (probes)   the same with small flushes (100, 10, 1 messages), four conversations in flight: the
//                     per-flush cost that dominates when traffic is spread thin.
//   mirror (e2e)      text messages sent over real WebSockets (100 devices in 20 conversations) at fixed
//                     offered rates, timed until D1 holds them all: the whole path, conversation objects
//                     included, with the alarm-driven outbox (200 ms) doing the mirroring.
//   search            GET /v1/search/messages with a user token (what users feel), and searchMessages()
//                     timed inside the Worker with D1's own SQL duration, plus EXPLAIN QUERY PLAN.
import { parseArgs } from "node:util";
import { cpus, loadavg, totalmem } from "node:os";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { COMBOS, Corpus, EARLY_DAYS, LATE_DAYS, START_TS, TERMS, tenantPlan } from "./bench-search/corpus.mjs";
import { d1Bytes, openLog, snapshot } from "./bench-search/stack.mjs";
import { migrate, startWranglerDev } from "./lib/stack.mjs";
import { Http, fmt, mdTable, pool, round, summarize, table } from "./bench-search/util.mjs";
import { e2eMirror } from "./bench-search/e2e.mjs";

const { values: opt } = parseArgs({
  options: {
    messages: { type: "string", default: "1000000" },
    port: { type: "string", default: "8793" },
    "inspector-port": { type: "string" },
    dir: { type: "string" },
    seed: { type: "string", default: "1" },
    queries: { type: "string", default: "200" },
    concurrency: { type: "string", default: "1,4" },
    "seed-concurrency": { type: "string", default: "2" },
    "e2e-rates": { type: "string", default: "250,500,1000,2500" },
    "e2e-seconds": { type: "string", default: "4" },
    keep: { type: "boolean", default: false },
    reuse: { type: "boolean", default: false },
    out: { type: "string" },
    ref: { type: "string" },
    help: { type: "boolean", default: false },
  },
});

if (opt.help) {
  console.log(`npm run bench:search -- [options]
  --messages N          messages to seed into one tenant (default 1000000)
  --queries N           measured queries per query kind and concurrency level (default 200)
  --concurrency 1,4     concurrency levels for the HTTP search runs (default 1,4)
  --seed-concurrency N  conversation backlogs mirrored side by side while seeding (default 2)
  --e2e-rates R,R       offered send rates (messages/s) for the end-to-end WebSocket run, 0 to skip (default 250,500,1000,2500)
  --e2e-seconds S       seconds of sending per rate (default 4)
  --port P              wrangler dev port (default 8793; never 8787); inspector port defaults to P+1000
  --dir D               working directory: project snapshot + D1 state (default /tmp/switchboard-bench-search-<port>)
  --keep                keep the seeded database afterwards (for --reuse)
  --reuse               reuse a kept database with the same --messages and --seed (skips seeding)
  --seed N              corpus seed (default 1)
  --ref R               benchmark git ref R (e.g. HEAD) instead of the working tree
  --out F               results JSON (default bench-results/search-<time>.json)`);
  process.exit(0);
}

const N = Number(opt.messages);
if (!Number.isInteger(N) || N < 1_000) throw new Error("--messages must be an integer >= 1000");
const PORT = Number(opt.port);
if (PORT === 8787) throw new Error("port 8787 is reserved for the developer's own stack; pick another");
const INSPECTOR = Number(opt["inspector-port"] ?? PORT + 1000);
const SEED = Number(opt.seed);
const QUERIES = Number(opt.queries);
const LEVELS = opt.concurrency.split(",").map(Number);
const SEED_CONCURRENCY = Number(opt["seed-concurrency"]);
const E2E_RATES = opt["e2e-rates"].split(",").map(Number).filter((r) => r > 0);
const E2E_SECONDS = Number(opt["e2e-seconds"]);
const LAYOUT = 3; // bump when the tenant layout or corpus changes: --reuse then seeds afresh
const DIR = resolve(opt.dir ?? `/tmp/switchboard-bench-search-${PORT}`);
const STATE = join(DIR, "state");
const META = join(STATE, "bench-meta.json");
const TENANT = "bench";
const ANALYST = "analyst";
const NEWBIE = "newbie";
const OUTSIDER = "outsider"; // a member of no seeded conversation
const started = new Date();
const OUT = opt.out ?? `bench-results/search-${started.toISOString().replace(/[:.]/g, "-")}.json`;

const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s`;
const say = (msg) => console.log(`[${elapsed()}] ${msg}`);

/** Processes of other local stacks or benchmarks (for the notes: the machine is shared). */
function otherLoad(ownPid) {
  const own = new Set([process.pid, ownPid]);
  const others = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || own.has(Number(name))) continue;
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ").trim();
    } catch {
      continue;
    }
    if (/workerd serve|wrangler.* dev|bench\.mjs|vitest|tsc /.test(cmd) && !cmd.includes(DIR)) others.push(cmd.slice(0, 140));
  }
  return others;
}

function machine() {
  const c = cpus();
  return { cpu: c[0]?.model ?? "unknown", cores: c.length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

// ---------------------------------------------------------------------------------------------------------

const results = {
  startedAt: started.toISOString(),
  machine: machine(),
  command: `node scripts/bench-search.mjs ${process.argv.slice(2).join(" ")}`.trim(),
  options: { messages: N, seed: SEED, queries: QUERIES, concurrency: LEVELS, seedConcurrency: SEED_CONCURRENCY, e2eRates: E2E_RATES, e2eSeconds: E2E_SECONDS, port: PORT },
  load: {},
};

mkdirSync(DIR, { recursive: true });
const log = openLog(join(DIR, "wrangler.log"));
say(`snapshot of the project -> ${DIR}/app`);
const snap = snapshot(DIR, opt.ref);
results.source = opt.ref ? `git ${opt.ref} (${snap.rev})` : `working tree at ${snap.rev}${snap.dirty ? " + uncommitted changes in src/workers/migrations" : ""}`;
const ADMIN = snap.vars.ADMIN_TOKEN;
if (!ADMIN) throw new Error("no ADMIN_TOKEN in .dev.vars");

let meta = existsSync(META) ? JSON.parse(readFileSync(META, "utf8")) : null;
const reusing = opt.reuse && meta && meta.messages === N && meta.seed === SEED && meta.layout === LAYOUT && meta.complete;
if (opt.reuse && !reusing) say("--reuse: no complete database with these --messages/--seed; seeding afresh");
if (!reusing) {
  rmSync(STATE, { recursive: true, force: true });
  mkdirSync(STATE, { recursive: true });
  meta = null;
}
// A reused database gets the migrations added since it was seeded.
say("applying D1 migrations to the private persist directory");
migrate({ cwd: snap.app, persistTo: STATE, log });

say(`starting wrangler dev on :${PORT} (log: ${DIR}/wrangler.log)`);
const stack = await startWranglerDev({ cwd: snap.app, port: PORT, inspectorPort: INSPECTOR, persistTo: STATE, log });
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    console.error(`\n${signal}: stopping the stack`);
    await stack.stop();
    if (!opt.keep) rmSync(STATE, { recursive: true, force: true });
    rmSync(join(DIR, "app"), { recursive: true, force: true });
    process.exit(130);
  });
}
const http = new Http(stack.base);
results.load.atStart = { loadavg: loadavg().map((x) => round(x)), otherProcesses: otherLoad(stack.pid) };
if (results.load.atStart.otherProcesses.length) say(`note: ${results.load.atStart.otherProcesses.length} other stack/benchmark processes are running on this machine`);

const sql = async (text, binds = []) => (await http.call("POST", "/__bench/sql", { token: ADMIN, body: { sql: text, binds }, paced: false })).data.results;

try {
  const plan = tenantPlan({ seed: SEED });

  // ---- Tenant, users, conversations (through the real API) ----
  let apiKey;
  if (!reusing) {
    say("creating the tenant, users and conversations through the HTTP API");
    apiKey = (await http.call("POST", "/v1/tenants", { token: ADMIN, body: { id: TENANT, name: "Search bench" } })).data.apiKey;
    const e2eConvCount = E2E_RATES.length > 0 ? 20 : 0;
    const e2eUsers = Array.from({ length: e2eConvCount * 5 }, (_, i) => `w${String(i).padStart(3, "0")}`);
    await pool([ANALYST, NEWBIE, OUTSIDER, ...plan.userIds, ...e2eUsers], 8, (id) => http.call("PUT", `/v1/users/${id}`, { token: apiKey, body: { name: `Bench ${id}` } }));
    const convIds = await pool(plan.conversations, 4, async (c) => {
      const members = [...(c.analystMember ? [ANALYST] : []), ...(c.newbieMember ? [NEWBIE] : []), ...c.members];
      return (await http.call("POST", "/v1/conversations", { token: apiKey, body: { type: "group", name: c.name, members } })).data.id;
    });
    const e2eConvs = await pool(
      Array.from({ length: e2eConvCount }, (_, i) => i),
      4,
      async (i) => {
        const users = e2eUsers.slice(i * 5, i * 5 + 5);
        const id = (await http.call("POST", "/v1/conversations", { token: apiKey, body: { type: "group", name: `Live room ${i + 1}`, members: [ANALYST, ...users] } })).data.id;
        return { id, users };
      },
    );
    meta = { layout: LAYOUT, messages: N, seed: SEED, tenantId: TENANT, apiKey, conversations: plan.conversations.map((c, i) => ({ index: i, id: convIds[i], analystMember: c.analystMember })), e2eConvs, complete: false };
    writeFileSync(META, JSON.stringify(meta, null, 2));
  } else {
    apiKey = meta.apiKey;
    say(`reusing the seeded database in ${STATE}`);
  }
  const token = async (id) => (await http.call("POST", `/v1/users/${id}/tokens`, { token: apiKey, body: { ttlSeconds: 6 * 3600 } })).data.token;
  const tokens = { [ANALYST]: await token(ANALYST), [NEWBIE]: await token(NEWBIE), [OUTSIDER]: await token(OUTSIDER) };

  // ---- Seed: the corpus through the server's mirror code ----
  // The conversation part of each flush: the row as D1 holds it (every column, camelCased as MirrorSnapshot
  // names them), so the conversation upsert of every flush writes what is already there.
  const rows = await sql(`SELECT * FROM conversations WHERE tenant_id = ?1`, [TENANT]);
  const camel = (k) => (k === "id" ? "conversationId" : k.replace(/_([a-z])/g, (_, ch) => ch.toUpperCase()));
  const byId = new Map(rows.map((r) => [r.id, Object.fromEntries(Object.entries(r).map(([k, v]) => [camel(k), v]))]));
  const base = (index) => byId.get(meta.conversations[index].id);
  const group = (messages) => {
    const by = new Map();
    for (const m of messages) {
      if (!by.has(m.conv)) by.set(m.conv, []);
      by.get(m.conv).push(m.row);
    }
    return [...by].map(([conv, rows]) => ({ conversation: base(conv), rows }));
  };
  const mirror = async (backlogs, flushMax, concurrency) => {
    const t = performance.now();
    const res = await http.call("POST", "/__bench/mirror", { token: ADMIN, body: { backlogs, flushMax, concurrency }, paced: false });
    return { clientMs: performance.now() - t, ...res.data };
  };
  const flushStats = (flushes, wallMs, rowsTotal) => {
    const batchMs = flushes.reduce((s, f) => s + f.ms, 0);
    const prepMs = flushes.reduce((s, f) => s + f.prepMs, 0);
    const ms = summarize(flushes.map((f) => f.ms));
    return {
      messages: rowsTotal,
      wallSeconds: round(wallMs / 1000, 1),
      messagesPerSecond: Math.round((rowsTotal * 1000) / wallMs),
      flushes: flushes.length,
      rowsPerFlush: round(rowsTotal / flushes.length, 1),
      batchMsP50: round(ms.p50),
      batchMsP99: round(ms.p99),
      batchMsMax: round(ms.max),
      /** rows / time spent inside DB.batch (the D1 write itself), summed over flushes (overlapping ones too). */
      messagesPerBatchSecond: Math.round((rowsTotal * 1000) / batchMs),
      /** Time inside DB.batch and building the flush (JSON.parse, searchableText, cjkGrams), summed. */
      batchSeconds: round(batchMs / 1000, 1),
      prepSeconds: round(prepMs / 1000, 1),
    };
  };

  if (!reusing) {
    const corpus = new Corpus({ plan, total: N, seed: SEED, analyst: ANALYST });
    const probeScale = Math.min(1, (N * 0.05) / 26_000);
    const probes = [
      { flushMax: 100, messages: Math.round(20_000 * probeScale) },
      { flushMax: 10, messages: Math.round(5_000 * probeScale) },
      { flushMax: 1, messages: Math.round(1_000 * probeScale) },
    ];
    const bulkN = N - probes.reduce((s, p) => s + p.messages, 0);
    // Backlogs: the next 50,000 messages of the stream, per conversation (about 1,000 each on average), so
    // flushes are as large as a draining outbox makes them whatever --messages is.
    const WINDOW = Math.min(50_000, bulkN);
    say(`seeding ${bulkN.toLocaleString()} messages as conversation backlogs (windows of ${WINDOW.toLocaleString()}, ${SEED_CONCURRENCY} in flight)`);
    const queue = [];
    let produced = 0;
    let written = 0;
    const flushes = [];
    let nextReport = 0.05;
    const tBulk = performance.now();
    const fill = () => {
      const take = Math.min(WINDOW, bulkN - produced);
      const batch = [];
      for (let i = 0; i < take; i++) batch.push(corpus.next());
      produced += take;
      queue.push(...group(batch));
    };
    await Promise.all(
      Array.from({ length: SEED_CONCURRENCY }, async () => {
        for (;;) {
          if (queue.length === 0) {
            if (produced >= bulkN) return;
            fill();
          }
          const b = queue.shift();
          const res = await mirror([b], 2_000, 1);
          flushes.push(...res.flushes);
          written += b.rows.length;
          if (written / bulkN >= nextReport) {
            const s = (performance.now() - tBulk) / 1000;
            say(`  ${written.toLocaleString()} messages in D1 (${Math.round((written / bulkN) * 100)}%), ${Math.round(written / s).toLocaleString()} messages/s so far`);
            nextReport += 0.05;
          }
        }
      }),
    );
    const bulk = flushStats(flushes, performance.now() - tBulk, written);
    say(`bulk mirror: ${bulk.messagesPerSecond.toLocaleString()} messages/s (${bulk.flushes} flushes, ${bulk.rowsPerFlush} rows/flush, batch p50 ${bulk.batchMsP50} ms)`);
    const probeResults = [];
    for (const p of probes) {
      if (p.messages <= 0) continue;
      const batch = [];
      for (let i = 0; i < p.messages; i++) batch.push(corpus.next());
      const res = await mirror(group(batch), p.flushMax, 4);
      const stats = { flushMax: p.flushMax, concurrency: 4, ...flushStats(res.flushes, res.ms, p.messages), clientWallSeconds: round(res.clientMs / 1000, 2) };
      probeResults.push(stats);
      say(`probe: flushes of <= ${p.flushMax}: ${stats.messagesPerSecond.toLocaleString()} messages/s (${stats.flushes} flushes, batch p50 ${stats.batchMsP50} ms, p99 ${stats.batchMsP99} ms)`);
    }
    if (corpus.k !== N) throw new Error(`seeded ${corpus.k} messages, expected ${N}`);
    const dataset = {
      messages: N,
      conversations: plan.conversations.length,
      analystMemberOf: plan.conversations.filter((c) => c.analystMember).length,
      messagesInAnalystConversations: plan.conversations.filter((c) => c.analystMember).reduce((s, c) => s + (corpus.seqs.get(c.index) ?? 0), 0),
      newbieMemberOf: plan.conversations.filter((c) => c.newbieMember).length,
      messagesInNewbieConversations: plan.conversations.filter((c) => c.newbieMember).reduce((s, c) => s + (corpus.seqs.get(c.index) ?? 0), 0),
      largestConversation: Math.max(...corpus.seqs.values()),
      users: plan.userIds.length + 3,
      kinds: corpus.kinds,
      languages: corpus.languages,
      avgSearchableChars: round(corpus.textChars / N, 1),
      avgBodyBytes: round(corpus.bodyBytes / N, 1),
      counts: corpus.counts,
    };
    // The index agrees with the generator: the server computed text and grams as we counted them.
    say("checking the index against the generator's term counts");
    const verify = {};
    for (const t of TERMS) {
      const index = [...t.term].length >= 3 ? "messages_fts" : "messages_grams";
      const [r] = await sql(`SELECT count(*) AS n FROM ${index} WHERE ${index} MATCH ?1`, [`"${t.term}"`]);
      verify[t.term] = { index: r.n, generator: corpus.counts[t.term].all, ok: r.n === corpus.counts[t.term].all };
    }
    const [{ n: inD1 }] = await sql(`SELECT count(*) AS n FROM messages WHERE tenant_id = ?1`, [TENANT]);
    dataset.rowsInD1 = inD1;
    dataset.indexCheck = verify;
    const bad = Object.entries(verify).filter(([, v]) => !v.ok);
    if (bad.length || inD1 !== N) say(`WARNING: index check mismatch: rows ${inD1} vs ${N}; ${JSON.stringify(bad)}`);
    meta = { ...meta, complete: true, dataset, seeding: { bulk, probes: probeResults } };
    writeFileSync(META, JSON.stringify(meta, null, 2));
  }
  // Conversation rows as the objects keep them: lastSeq is the newest message (search reads it to choose a
  // plan). Flushes of one conversation may land out of order while seeding, and older seeds did not set it.
  await sql(
    `UPDATE conversations SET last_seq = (SELECT coalesce(max(seq), 0) FROM messages m WHERE m.tenant_id = conversations.tenant_id AND m.conversation_id = conversations.id) WHERE tenant_id = ?1`,
    [TENANT],
  );
  results.dataset = { ...meta.dataset, d1Bytes: d1Bytes(STATE) };
  if (reusing) results.dataset.note = "reused database: messages of earlier end-to-end runs are in it too; term counts are those of the seed";
  results.mirror = meta.seeding;
  results.mirror.reused = Boolean(reusing);
  say(`D1 database: ${(results.dataset.d1Bytes / 2 ** 20).toFixed(0)} MiB for ${N.toLocaleString()} messages`);

  // ---- Search ----
  const early = `&after=${START_TS}&before=${START_TS + EARLY_DAYS * 86_400_000}`;
  const END_TS = START_TS + 365 * 86_400_000;
  const recent = `&after=${END_TS - LATE_DAYS * 86_400_000}&before=${END_TS}`;
  // Every kind has the same target: p99 under 100 ms at 4 concurrent searches (issue 10, item 6).
  const kinds = [
    { kind: "3+ chars", target: true, user: ANALYST, count: "visible", queries: TERMS.filter((t) => t.kind === "3+ chars").map((t) => t.term) },
    { kind: "2-char CJK", target: true, user: ANALYST, count: "visible", queries: TERMS.filter((t) => t.kind === "2-char CJK").map((t) => t.term) },
    { kind: "3+ chars AND 2-char", target: true, user: ANALYST, count: "visible", queries: COMBOS.map((c) => c.q) },
    { kind: "three terms", target: true, user: ANALYST, count: "visible", queries: ["forecast pipeline 客户", "跟进客户 报价 forecast"] },
    { kind: "not a member", target: true, user: ANALYST, count: "visible", queries: TERMS.filter((t) => t.kind === "not a member").map((t) => t.term) },
    { kind: "2 small convs only", target: true, user: NEWBIE, count: "newbie", queries: ["forecast", "跟进客户", "客户", "报价"] },
    { kind: "nothing visible", target: true, user: OUTSIDER, count: "none", queries: ["forecast", "客户"] },
    // A date range: its ids bound the scan when it holds at most 20,000 messages (src/storage/search.ts).
    { kind: "after/before: oldest week", target: true, user: ANALYST, count: "earlyVisible", params: early, queries: ["客户", "forecast"] },
    { kind: "after/before: last 30 days", target: true, user: ANALYST, count: "lateVisible", params: recent, queries: ["客户", "forecast"] },
  ];
  const runs = (k) => (k.slow ? Math.min(QUERIES, k.slow) : QUERIES);
  const counts = meta.dataset.counts;
  const search = (k, q) => http.call("GET", `/v1/search/messages?q=${encodeURIComponent(q)}${k.params ?? ""}`, { token: tokens[k.user] });
  const inWorker = (k, q, explain = false) =>
    http.call("GET", `/__bench/search?tenant=${TENANT}&user=${k.user}&q=${encodeURIComponent(q)}${k.params ?? ""}${explain ? "&explain=1" : ""}`, { token: ADMIN, paced: false });

  say("EXPLAIN QUERY PLAN of the search statement");
  results.plans = {};
  const depth = (planRows, row) => {
    let d = 0;
    for (let p = row.parent; p; p = planRows.find((x) => x.id === p)?.parent) d++;
    return d;
  };
  for (const [k, q] of [[kinds[0], "forecast"], [kinds[1], "客户"], [kinds[2], "forecast 客户"], [kinds.at(-2), "客户"]]) {
    const r = (await inWorker(k, q, true)).data;
    results.plans[k.params ? `${q} (${k.kind})` : q] = { sql: r.sql.replace(/\s+/g, " ").trim(), plan: r.plan.map((p) => `${"  ".repeat(depth(r.plan, p))}${p.detail}`) };
  }

  say("warm-up: every query 3 times");
  for (const k of kinds) for (const q of k.queries) for (let i = 0; i < (k.slow ? 0 : 3); i++) await search(k, q);

  results.search = [];
  results.perTerm = [];
  for (const c of LEVELS) {
    for (const k of kinds) {
      if (k.slow && c !== LEVELS[0]) continue;
      const list = Array.from({ length: runs(k) }, (_, i) => k.queries[i % k.queries.length]);
      const tStart = performance.now();
      const out = await pool(list, c, async (q) => {
        const r = await search(k, q);
        return { q, ms: r.ms, hits: r.data.hits.length, capped: r.data.capped === true };
      });
      const wall = performance.now() - tStart;
      const s = summarize(out.map((o) => o.ms));
      const hits = out.map((o) => o.hits);
      const row = {
        kind: k.kind,
        user: k.user,
        concurrency: c,
        target: Boolean(k.target),
        queries: out.length,
        p50: round(s.p50),
        p90: round(s.p90),
        p99: round(s.p99),
        max: round(s.max),
        mean: round(s.mean),
        qps: round((out.length * 1000) / wall, 1),
        hitsMin: Math.min(...hits),
        hitsMax: Math.max(...hits),
        capped: out.filter((o) => o.capped).length,
      };
      results.search.push(row);
      say(`search ${k.kind.padEnd(20)} c=${c}: p50 ${fmt(row.p50)} ms  p90 ${fmt(row.p90)}  p99 ${fmt(row.p99)}  max ${fmt(row.max)}  (${row.qps} q/s, hits ${row.hitsMin}-${row.hitsMax}, capped ${row.capped})`);
      if (c === LEVELS[0]) {
        for (const q of k.queries) {
          const mine = out.filter((o) => o.q === q);
          const st = summarize(mine.map((o) => o.ms));
          results.perTerm.push({ term: q, kind: k.kind, queries: mine.length, p50: round(st.p50), p99: round(st.p99), max: round(st.max), hits: mine[0]?.hits ?? 0, matchesInTenant: counts[q]?.all ?? null, matchesVisible: k.count === "none" ? 0 : counts[q]?.[k.count] ?? null });
        }
      }
    }
  }

  say("inside the Worker: searchMessages() and D1's own SQL time and rows read");
  results.inWorker = [];
  for (const k of kinds) {
    if (k.slow) continue;
    const list = Array.from({ length: Math.max(20, Math.round(QUERIES / 2)) }, (_, i) => k.queries[i % k.queries.length]);
    const out = [];
    for (const q of list) {
      const r = await inWorker(k, q);
      out.push({ worker: r.data.ms, sql: r.data.meta?.duration ?? null, rowsRead: r.data.meta?.rows_read ?? null });
    }
    const w = summarize(out.map((o) => o.worker));
    const d = summarize(out.filter((o) => o.sql !== null).map((o) => o.sql));
    const rr = summarize(out.filter((o) => o.rowsRead !== null).map((o) => o.rowsRead));
    const row = { kind: k.kind, queries: out.length, workerP50: round(w.p50), workerP99: round(w.p99), sqlP50: round(d.p50), sqlP99: round(d.p99), rowsReadP50: rr.p50, rowsReadMax: rr.max };
    results.inWorker.push(row);
    say(`in Worker ${k.kind.padEnd(20)}: searchMessages p50 ${fmt(row.workerP50)} ms p99 ${fmt(row.workerP99)}; D1 SQL p50 ${fmt(row.sqlP50)} p99 ${fmt(row.sqlP99)}; rows read p50 ${row.rowsReadP50} max ${row.rowsReadMax}`);
  }
  results.load.afterSearch = { loadavg: loadavg().map((x) => round(x)), otherProcesses: otherLoad(stack.pid).length };

  // ---- End to end over WebSockets ----
  if (E2E_RATES.length && meta.e2eConvs?.length) {
    say("end-to-end mirror: WebSocket sends at fixed offered rates until D1 holds them");
    const direct = await stack.directBase();
    say(direct ? `  sockets go straight to the runtime at ${direct} (past wrangler dev's proxy)` : "  runtime entry not found; sockets go through wrangler dev's proxy");
    const convs = [];
    for (const c of meta.e2eConvs) convs.push({ id: c.id, users: await Promise.all(c.users.map(async (u) => ({ id: u, token: await token(u) }))) });
    const texts = new Corpus({ plan, total: 1_000_000, seed: SEED + 1000, textOnly: true });
    const marker = `e2emark${randomBytes(4).toString("hex")}`;
    const ids = JSON.stringify(convs.map((c) => c.id));
    const e2e = await e2eMirror({
      base: direct ?? stack.base,
      convs,
      rates: E2E_RATES,
      seconds: E2E_SECONDS,
      marker,
      text: () => texts.next().text,
      count: async () => (await sql(`SELECT count(*) AS n FROM messages WHERE tenant_id = ?1 AND conversation_id IN (SELECT value FROM json_each(?2))`, [TENANT, ids]))[0].n,
      log: say,
    });
    e2e.via = direct ? "runtime entry (no dev proxy)" : "wrangler dev proxy";
    e2e.markerHitsViaSearch = (await http.call("GET", `/v1/search/messages?q=${marker}&limit=50`, { token: tokens[ANALYST] })).data.hits.length;
    e2e.markerExpected = convs.length;
    results.e2e = e2e;
    say(`e2e: search finds ${e2e.markerHitsViaSearch}/${e2e.markerExpected} of the last messages`);
  }
  results.load.atEnd = { loadavg: loadavg().map((x) => round(x)), otherProcesses: otherLoad(stack.pid).length };
} finally {
  await stack.stop();
  log.end();
}

results.durationSeconds = round((performance.now() - t0) / 1000, 0);
mkdirSync(join(OUT, ".."), { recursive: true });
writeFileSync(OUT, JSON.stringify(results, null, 2));
if (!opt.keep) rmSync(STATE, { recursive: true, force: true });
rmSync(join(DIR, "app"), { recursive: true, force: true });

// ---- Report ----
const m = results.mirror;
const target = (v, limit, below = true) => (v === null || v === undefined ? "-" : (below ? v < limit : v >= limit) ? "yes" : "**no**");
console.log(`\nSearch benchmark: ${N.toLocaleString()} messages, ${results.source}, ${results.durationSeconds} s; results in ${OUT}\n`);
const searchRows = [["query kind", "conc.", "queries", "p50 ms", "p90 ms", "p99 ms", "max ms", "q/s", "hits", "capped pages", "p99 < 100 ms"]];
for (const r of results.search) searchRows.push([r.kind, r.concurrency, r.queries, fmt(r.p50), fmt(r.p90), fmt(r.p99), fmt(r.max), fmt(r.qps), `${r.hitsMin}-${r.hitsMax}`, r.capped, r.target ? target(r.p99, 100) : "(no target)"]);
console.log(table(searchRows));
const termRows = [["term", "query kind", "matches in tenant", "visible to the user", "hits", "p50 ms", "p99 ms"]];
for (const r of results.perTerm) termRows.push([r.term, r.kind, r.matchesInTenant, r.matchesVisible, r.hits, fmt(r.p50), fmt(r.p99)]);
console.log(`\n${table(termRows)}`);
const w = [["query kind", "searchMessages p50 ms", "p99 ms", "D1 SQL p50 ms", "p99 ms", "rows read p50", "max"]];
for (const r of results.inWorker) w.push([r.kind, fmt(r.workerP50), fmt(r.workerP99), fmt(r.sqlP50), fmt(r.sqlP99), r.rowsReadP50, r.rowsReadMax]);
console.log(`\n${table(w)}`);
const mr = [["mirror run", "messages", "flushes", "rows/flush", "batch p50 ms", "batch p99 ms", "messages/s", ">= 5,000/s"]];
mr.push(["bulk (<= 2,000 messages / 900 KiB per flush, 2 in flight)", m.bulk.messages, m.bulk.flushes, m.bulk.rowsPerFlush, fmt(m.bulk.batchMsP50), fmt(m.bulk.batchMsP99), m.bulk.messagesPerSecond, target(m.bulk.messagesPerSecond, 5000, false)]);
for (const p of m.probes) mr.push([`flushes of <= ${p.flushMax}, 4 in flight`, p.messages, p.flushes, p.rowsPerFlush, fmt(p.batchMsP50), fmt(p.batchMsP99), p.messagesPerSecond, target(p.messagesPerSecond, 5000, false)]);
console.log(`\n${table(mr)}`);
let er = null;
if (results.e2e) {
  er = [["offered msgs/s", "messages", "acked msgs/s", "ack p50 ms", "ack p99 ms", "all in D1 after s", "into D1 msgs/s", "D1 lag p50 ms", "D1 lag max ms"]];
  for (const x of results.e2e.steps) er.push([x.offeredPerSecond, x.messages, fmt(x.ackedPerSecond, 0), fmt(x.ackLatencyMsP50, 0), fmt(x.ackLatencyMsP99, 0), fmt(x.allInD1Seconds, 2), fmt(x.d1PerSecond, 0), fmt(x.d1LagMsP50, 0), fmt(x.d1LagMsMax, 0)]);
  console.log(`\nEnd to end (${results.e2e.sockets} WebSockets in ${results.e2e.conversations} conversations, ${results.e2e.via}):\n${table(er)}`);
}
console.log(`\nMarkdown:\n\n${mdTable(searchRows)}\n\n${mdTable(termRows)}\n\n${mdTable(w)}\n\n${mdTable(mr)}\n${er ? `\n${mdTable(er)}\n` : ""}`);
for (const [q, p] of Object.entries(results.plans ?? {})) console.log(`EXPLAIN QUERY PLAN (${q}):\n${p.plan.join("\n")}\n`);
