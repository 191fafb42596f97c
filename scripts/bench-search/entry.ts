// Bench-only Worker entry for `npm run bench:search`. It is copied into the benchmark's private snapshot of
// the project (never deployed, never part of the real Worker) and wraps the real Worker unchanged: every
// request goes to workers/index.ts except /__bench/*, which needs the ADMIN_TOKEN and offers:
//
//   POST /__bench/mirror   conversation backlogs -> D1 through the server's own code: rows become history
//                          rows in flushes bounded as the mirror bounds them (historyBatch of
//                          src/storage/room-mirror.ts) and are written with
//                          `DB.batch(mirrorStatements(...))`, one flush after another per backlog, as a
//                          conversation object's outbox does. Times every flush.
//   GET  /__bench/search   compileQuery + searchMessages (src/storage/search.ts) timed inside the Worker, with
//                          D1's own SQL duration and, on request, EXPLAIN QUERY PLAN of the exact statement.
//   POST /__bench/sql      one read statement, for counts, sizes and plans.
import worker from "./workers/index";
import { mirrorStatements, type HistoryRow, type MirrorSnapshot } from "./src/storage/conversations";
import { searchMessages } from "./src/storage/search";
import { historyBatch, MIRROR_MESSAGES_MAX } from "./src/storage/room-mirror";
import { compileQuery } from "./src/domain/search";

export { ConversationRoom, TenantPresence } from "./workers/index";

interface RawRow {
  seq: number;
  clientId: string;
  sender: string;
  kind: string;
  /** The stored body, as JSON text. */
  body: string;
  ts: number;
  version: number;
}

interface Backlog {
  conversation: Omit<MirrorSnapshot, "upserts" | "removals" | "history" | "historyThrough" | "revised">;
  rows: RawRow[];
}

const json = (data: unknown, status = 200) => new Response(JSON.stringify(data), { status, headers: { "content-type": "application/json" } });

/** One backlog, flushed the way a conversation object drains a long backlog: flush after flush. */
async function drain(env: Env, b: Backlog, flushMax: number): Promise<{ rows: number; ms: number; prepMs: number }[]> {
  const out: { rows: number; ms: number; prepMs: number }[] = [];
  let i = 0;
  while (i < b.rows.length) {
    const t0 = performance.now();
    const cap = Math.min(flushMax, MIRROR_MESSAGES_MAX);
    const stored = b.rows.slice(i, i + cap).map((r) => ({ seq: r.seq, client_id: r.clientId, sender: r.sender, kind: r.kind, body: r.body, ts: r.ts, edited_at: null, recalled: 0, version: r.version }));
    const history: HistoryRow[] = historyBatch(stored, cap);
    i += history.length;
    const snapshot: MirrorSnapshot = {
      ...b.conversation,
      lastSeq: history.at(-1)!.seq,
      upserts: [],
      removals: [],
      history,
      historyThrough: history.at(-1)!.seq,
      revised: [],
    };
    const statements = mirrorStatements(env.DB, snapshot);
    const t1 = performance.now();
    await env.DB.batch(statements);
    const t2 = performance.now();
    out.push({ rows: history.length, ms: t2 - t1, prepMs: t1 - t0 });
  }
  return out;
}

async function bench(request: Request, env: Env): Promise<Response> {
  const url = new URL(request.url);
  if (request.headers.get("authorization") !== `Bearer ${env.ADMIN_TOKEN}`) return json({ error: "unauthorized" }, 401);

  if (url.pathname === "/__bench/mirror" && request.method === "POST") {
    const input = (await request.json()) as { backlogs: Backlog[]; flushMax?: number; concurrency?: number };
    const flushMax = input.flushMax ?? MIRROR_MESSAGES_MAX;
    const t0 = performance.now();
    const queue = [...input.backlogs];
    const flushes: { rows: number; ms: number; prepMs: number }[] = [];
    // Each chain is one conversation object: its flushes run one after another.
    await Promise.all(
      Array.from({ length: Math.max(1, input.concurrency ?? 1) }, async () => {
        for (let b = queue.shift(); b; b = queue.shift()) flushes.push(...(await drain(env, b, flushMax)));
      }),
    );
    return json({ ms: performance.now() - t0, flushes });
  }

  if (url.pathname === "/__bench/search" && request.method === "GET") {
    const q = url.searchParams.get("q") ?? "";
    const compiled = compileQuery(q);
    if (!compiled.ok) return json({ error: compiled.message }, 400);
    // A recording D1Database: searchMessages runs unchanged; we keep each statement's SQL, binds and D1's
    // meta (the scope query, then the search itself: the last one is the one EXPLAINed).
    const statements: { sql: string; binds: unknown[]; meta?: D1Meta }[] = [];
    const db = {
      prepare(sql: string) {
        const statement = env.DB.prepare(sql);
        return {
          bind(...binds: unknown[]) {
            const record: { sql: string; binds: unknown[]; meta?: D1Meta } = { sql, binds };
            statements.push(record);
            const bound = statement.bind(...binds);
            return {
              async all() {
                const result = await bound.all();
                record.meta = result.meta;
                return result;
              },
              async first() {
                const result = await bound.all();
                record.meta = result.meta;
                return result.results[0] ?? null;
              },
            };
          },
        };
      },
    } as unknown as D1Database;
    const t0 = performance.now();
    const page = await searchMessages(db, {
      tenantId: url.searchParams.get("tenant") ?? "",
      userId: url.searchParams.get("user") ?? "",
      trigram: compiled.trigram,
      grams: compiled.grams,
      after: url.searchParams.has("after") ? Number(url.searchParams.get("after")) : undefined,
      before: url.searchParams.has("before") ? Number(url.searchParams.get("before")) : undefined,
      limit: Number(url.searchParams.get("limit") ?? 20),
    });
    const ms = performance.now() - t0;
    const captured = statements.at(-1);
    let plan: unknown = undefined;
    if (url.searchParams.get("explain") === "1" && captured) {
      plan = (await env.DB.prepare(`EXPLAIN QUERY PLAN ${captured.sql}`).bind(...captured.binds).all()).results;
    }
    // D1's SQL time and rows read, summed over the statements of the search.
    const meta = {
      duration: statements.reduce((sum, x) => sum + (x.meta?.duration ?? 0), 0),
      rows_read: statements.reduce((sum, x) => sum + (x.meta?.rows_read ?? 0), 0),
      statements: statements.length,
    };
    return json({ ms, hits: page.hits.length, capped: page.capped, sql: captured?.sql, binds: captured?.binds, meta, plan });
  }

  if (url.pathname === "/__bench/sql" && request.method === "POST") {
    const input = (await request.json()) as { sql: string; binds?: unknown[] };
    const t0 = performance.now();
    const result = await env.DB.prepare(input.sql).bind(...(input.binds ?? [])).all();
    return json({ ms: performance.now() - t0, results: result.results, meta: result.meta });
  }

  return json({ error: "no such bench route" }, 404);
}

export default {
  ...worker,
  async fetch(request: Request, env: Env, ctx: ExecutionContext) {
    if (new URL(request.url).pathname.startsWith("/__bench/")) return bench(request, env);
    return worker.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
