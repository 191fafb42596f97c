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
import { loadavg } from "node:os";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { Corpus, tenantPlan } from "./bench-search/corpus.mjs";
import { d1Bytes, openLog, snapshot } from "./bench-search/stack.mjs";
import { migrate, startWranglerDev } from "./lib/stack.mjs";
import { Http, round } from "./bench-search/util.mjs";
import { e2eMirror } from "./bench-search/e2e.mjs";
import { searchOptions } from "./bench-search/options.mjs";
import { ANALYST, LAYOUT, NEWBIE, OUTSIDER, TENANT, createTenant, seedCorpus } from "./bench-search/seed.mjs";
import { measureSearch } from "./bench-search/search.mjs";
import { printReport } from "./bench-search/report.mjs";
import { machine, otherLoad } from "./bench-search/host.mjs";

const started = new Date();
const { opt, N, PORT, INSPECTOR, SEED, QUERIES, LEVELS, SEED_CONCURRENCY, E2E_RATES, E2E_SECONDS, DIR, STATE, META, OUT } = searchOptions(started);

const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s`;
const say = (msg) => console.log(`[${elapsed()}] ${msg}`);

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
results.load.atStart = { loadavg: loadavg().map((x) => round(x)), otherProcesses: otherLoad(stack.pid, DIR) };
if (results.load.atStart.otherProcesses.length) say(`note: ${results.load.atStart.otherProcesses.length} other stack/benchmark processes are running on this machine`);

const sql = async (text, binds = []) => (await http.call("POST", "/__bench/sql", { token: ADMIN, body: { sql: text, binds }, paced: false })).data.results;

try {
  const plan = tenantPlan({ seed: SEED });

  // ---- Tenant, users, conversations (through the real API) ----
  if (!reusing) {
    say("creating the tenant, users and conversations through the HTTP API");
    meta = await createTenant({ http, admin: ADMIN, plan, e2eConvCount: E2E_RATES.length > 0 ? 20 : 0, messages: N, seed: SEED });
    writeFileSync(META, JSON.stringify(meta, null, 2));
  } else {
    say(`reusing the seeded database in ${STATE}`);
  }
  const apiKey = meta.apiKey;
  const token = async (id) => (await http.call("POST", `/v1/users/${id}/tokens`, { token: apiKey, body: { ttlSeconds: 6 * 3600 } })).data.token;
  const tokens = { [ANALYST]: await token(ANALYST), [NEWBIE]: await token(NEWBIE), [OUTSIDER]: await token(OUTSIDER) };

  // ---- Seed: the corpus through the server's mirror code ----
  if (!reusing) {
    meta = await seedCorpus({ http, sql, admin: ADMIN, meta, plan, messages: N, seed: SEED, seedConcurrency: SEED_CONCURRENCY, say });
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
  Object.assign(results, await measureSearch({ http, admin: ADMIN, tokens, counts: meta.dataset.counts, queries: QUERIES, levels: LEVELS, say }));
  results.load.afterSearch = { loadavg: loadavg().map((x) => round(x)), otherProcesses: otherLoad(stack.pid, DIR).length };

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
  results.load.atEnd = { loadavg: loadavg().map((x) => round(x)), otherProcesses: otherLoad(stack.pid, DIR).length };
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
printReport(results, OUT);
