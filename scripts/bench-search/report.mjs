// The search benchmark's report on stdout: plain tables, the same as Markdown, and the query plans.
import { fmt, mdTable, table } from "./util.mjs";

/** Print what a run measured (`results`, as written to `out`). */
export function printReport(results, out) {
  const m = results.mirror;
  const target = (v, limit, below = true) => (v === null || v === undefined ? "-" : (below ? v < limit : v >= limit) ? "yes" : "**no**");
  console.log(`\nSearch benchmark: ${results.options.messages.toLocaleString()} messages, ${results.source}, ${results.durationSeconds} s; results in ${out}\n`);
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
}
