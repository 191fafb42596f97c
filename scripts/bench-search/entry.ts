// Bench-only Worker entry for `npm run bench:search`. It is copied into the benchmark's private snapshot of
// the project (never deployed, never part of the real Worker) and wraps the real Worker unchanged: every
// request goes to workers/index.ts except /__bench/*, which needs the ADMIN_TOKEN and offers:
//
//   POST /__bench/mirror   conversation backlogs -> D1 through the server's own code: rows are turned into
//                          history rows exactly as RoomStore.mirrorSnapshot does (searchableText, cjkGrams,
//                          the 2,000-message / 512 KiB flush bound) and written with
//                          `DB.batch(mirrorStatements(...))`, one flush after another per backlog, as a
//                          conversation object's outbox does. Times every flush.
//   GET  /__bench/search   compileQuery + searchMessages (src/storage/search.ts) timed inside the Worker, with
//                          D1's own SQL duration and, on request, EXPLAIN QUERY PLAN of the exact statement.
//   POST /__bench/sql      one read statement, for counts, sizes and plans.
import worker from "./workers/index";
import { mirrorStatements, type HistoryRow, type MirrorSnapshot } from "./src/storage/conversations";
import { searchMessages } from "./src/storage/search";
import { cjkGrams, compileQuery, searchableText } from "./src/domain/search";

export { ConversationRoom, TenantPresence } from "./workers/index";

/** The same bounds as src/storage/room-store.ts (MIRROR_MESSAGE_BYTES, MIRROR_MESSAGES_MAX). */
const MIRROR_MESSAGE_BYTES = 512 * 1024;
const MIRROR_MESSAGES_MAX = 2_000;

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
    const history: HistoryRow[] = [];
    let bytes = 0;
    const cap = Math.min(flushMax, MIRROR_MESSAGES_MAX);
    while (i < b.rows.length && history.length < cap) {
      const r = b.rows[i++]!;
      const body = JSON.parse(r.body);
      const text = searchableText(r.kind, body);
      history.push({
        seq: r.seq,
        clientId: r.clientId,
        sender: r.sender,
        kind: r.kind,
        body: r.body,
        text,
        grams: cjkGrams(text),
        ts: r.ts,
        editedAt: null,
        recalled: 0,
        version: r.version,
      });
      bytes += r.body.length + text.length * 2;
      if (bytes >= MIRROR_MESSAGE_BYTES) break;
    }
    const snapshot: MirrorSnapshot = {
      ...b.conversation,
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
    const captured: { sql?: string; binds?: unknown[]; meta?: unknown } = {};
    // A recording D1Database: searchMessages runs unchanged; we keep its SQL, binds and D1's meta.
    const db = {
      prepare(sql: string) {
        captured.sql = sql;
        const statement = env.DB.prepare(sql);
        return {
          bind(...binds: unknown[]) {
            captured.binds = binds;
            const bound = statement.bind(...binds);
            return {
              async all() {
                const result = await bound.all();
                captured.meta = result.meta;
                return result;
              },
            };
          },
        };
      },
    } as unknown as D1Database;
    const t0 = performance.now();
    const hits = await searchMessages(db, {
      tenantId: url.searchParams.get("tenant") ?? "",
      userId: url.searchParams.get("user") ?? "",
      trigram: compiled.trigram,
      grams: compiled.grams,
      after: url.searchParams.has("after") ? Number(url.searchParams.get("after")) : undefined,
      before: url.searchParams.has("before") ? Number(url.searchParams.get("before")) : undefined,
      limit: Number(url.searchParams.get("limit") ?? 20),
    });
    const ms = performance.now() - t0;
    let plan: unknown = undefined;
    if (url.searchParams.get("explain") === "1" && captured.sql) {
      plan = (await env.DB.prepare(`EXPLAIN QUERY PLAN ${captured.sql}`).bind(...(captured.binds ?? [])).all()).results;
    }
    return json({ ms, hits: hits.length, sql: captured.sql, binds: captured.binds, meta: captured.meta, plan });
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
