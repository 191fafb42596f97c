// Seeding the search benchmark's tenant: its users and conversations through the HTTP API, then the corpus
// into D1 through the server's own mirror code (the bench entry's /__bench/mirror), timed flush by flush,
// and the index checked against the generator's term counts.
import { performance } from "node:perf_hooks";
import { Corpus, TERMS } from "./corpus.mjs";
import { pool, round, summarize } from "./util.mjs";

export const LAYOUT = 3; // bump when the tenant layout or corpus changes: --reuse then seeds afresh
export const TENANT = "bench";
export const ANALYST = "analyst";
export const NEWBIE = "newbie";
export const OUTSIDER = "outsider"; // a member of no seeded conversation

/**
 * The tenant, its users and the plan's conversations through the HTTP API, and `e2eConvCount` conversations
 * of five more users each (and the analyst) for the end-to-end run. Returns the meta kept beside the database.
 */
export async function createTenant({ http, admin, plan, e2eConvCount, messages, seed }) {
  const apiKey = (await http.call("POST", "/v1/tenants", { token: admin, body: { id: TENANT, name: "Search bench" } })).data.apiKey;
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
  return { layout: LAYOUT, messages, seed, tenantId: TENANT, apiKey, conversations: plan.conversations.map((c, i) => ({ index: i, id: convIds[i], analystMember: c.analystMember })), e2eConvs, complete: false };
}

/**
 * The corpus of `messages` messages into D1 as conversation backlogs (`seedConcurrency` in flight), then the
 * probes with small flushes; checks the index and returns `meta` completed with the dataset and the seeding.
 */
export async function seedCorpus({ http, sql, admin, meta, plan, messages, seed, seedConcurrency, say }) {
  // The conversation part of each flush: the row as D1 holds it (every column, camelCased as MirrorSnapshot
  // names them), so the conversation upsert of every flush writes what is already there.
  const rows = await sql(`SELECT * FROM conversations WHERE tenant_id = ?1`, [TENANT]);
  const camel = (k) => (k === "id" ? "conversationId" : k.replace(/_([a-z])/g, (_, ch) => ch.toUpperCase()));
  const byId = new Map(rows.map((r) => [r.id, Object.fromEntries(Object.entries(r).map(([k, v]) => [camel(k), v]))]));
  const base = (index) => byId.get(meta.conversations[index].id);
  const group = (batch) => {
    const by = new Map();
    for (const m of batch) {
      if (!by.has(m.conv)) by.set(m.conv, []);
      by.get(m.conv).push(m.row);
    }
    return [...by].map(([conv, rows]) => ({ conversation: base(conv), rows }));
  };
  const mirror = async (backlogs, flushMax, concurrency) => {
    const t = performance.now();
    const res = await http.call("POST", "/__bench/mirror", { token: admin, body: { backlogs, flushMax, concurrency }, paced: false });
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

  const corpus = new Corpus({ plan, total: messages, seed, analyst: ANALYST });
  const probeScale = Math.min(1, (messages * 0.05) / 26_000);
  const probes = [
    { flushMax: 100, messages: Math.round(20_000 * probeScale) },
    { flushMax: 10, messages: Math.round(5_000 * probeScale) },
    { flushMax: 1, messages: Math.round(1_000 * probeScale) },
  ];
  const bulkN = messages - probes.reduce((s, p) => s + p.messages, 0);
  // Backlogs: the next 50,000 messages of the stream, per conversation (about 1,000 each on average), so
  // flushes are as large as a draining outbox makes them whatever --messages is.
  const WINDOW = Math.min(50_000, bulkN);
  say(`seeding ${bulkN.toLocaleString()} messages as conversation backlogs (windows of ${WINDOW.toLocaleString()}, ${seedConcurrency} in flight)`);
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
    Array.from({ length: seedConcurrency }, async () => {
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
  if (corpus.k !== messages) throw new Error(`seeded ${corpus.k} messages, expected ${messages}`);
  const dataset = {
    messages,
    conversations: plan.conversations.length,
    analystMemberOf: plan.conversations.filter((c) => c.analystMember).length,
    messagesInAnalystConversations: plan.conversations.filter((c) => c.analystMember).reduce((s, c) => s + (corpus.seqs.get(c.index) ?? 0), 0),
    newbieMemberOf: plan.conversations.filter((c) => c.newbieMember).length,
    messagesInNewbieConversations: plan.conversations.filter((c) => c.newbieMember).reduce((s, c) => s + (corpus.seqs.get(c.index) ?? 0), 0),
    largestConversation: Math.max(...corpus.seqs.values()),
    users: plan.userIds.length + 3,
    kinds: corpus.kinds,
    languages: corpus.languages,
    avgSearchableChars: round(corpus.textChars / messages, 1),
    avgBodyBytes: round(corpus.bodyBytes / messages, 1),
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
  if (bad.length || inD1 !== messages) say(`WARNING: index check mismatch: rows ${inD1} vs ${messages}; ${JSON.stringify(bad)}`);
  return { ...meta, complete: true, dataset, seeding: { bulk, probes: probeResults } };
}
