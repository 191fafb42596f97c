import { drizzle } from "drizzle-orm/d1";
import { and, eq, exists, ne, or, sql, type SQL } from "drizzle-orm";
import { alias, QueryBuilder, type SQLiteColumn } from "drizzle-orm/sqlite-core";
import { conversations, hiddenMessages, memberships, users } from "./schema";
import type { ConversationSummary, HistoryRow } from "./conversations";
import { listConversationsWhere } from "./conversations";
import type { Message } from "../protocol/frames";
import type { MessageRow } from "./room-schema";
import { messageFromRow, type MessageColumns } from "./message-rows";
import { cjkGrams, searchableText } from "../domain/search";
import { parseStoredObject } from "../protocol/json";

/** A message as a conversation object stores it: what the mirror copies into the D1 history. */
export type StoredMessage = Pick<MessageRow, "seq" | "client_id" | "sender" | "kind" | "body" | "ts" | "edited_at" | "recalled" | "version">;

/** The D1 history row of a stored message, with what search indexes (nothing for a recalled message). */
export function historyRow(r: StoredMessage): HistoryRow {
  const text = r.recalled === 1 ? "" : searchableText(r.kind, parseStoredObject(r.body, "message body"));
  return {
    seq: r.seq,
    clientId: r.client_id,
    sender: r.sender,
    kind: r.kind,
    body: r.body,
    text,
    grams: cjkGrams(text),
    ts: r.ts,
    editedAt: r.edited_at,
    recalled: r.recalled,
    version: r.version,
  };
}

/** Most index matches one request examines when it walks the index newest first (then it stops and pages). */
export const SEARCH_SCAN_MAX = 1_000;
/**
 * A searcher who can see at most this many messages (in the conversations the query covers, counted as
 * the sum of their `lastSeq`) is searched
 * from their conversations: their messages are checked against the index's matches, which are examined up
 * to {@link SEARCH_MATCHES_MAX} per request. Beyond it, matches are examined newest first up to
 * {@link SEARCH_SCAN_MAX}.
 */
export const SEARCH_VISIBLE_MAX = 20_000;
export const SEARCH_MATCHES_MAX = 5_000;
/** A date filter narrows the scan to the ids of its messages when it holds at most this many. */
const DATE_WINDOW_MAX = 20_000;

export interface MessageSearch {
  tenantId: string;
  userId: string;
  /** FTS5 query for the trigram index (terms of 3+ characters), already escaped. */
  trigram: string | null;
  /** FTS5 query for the grams index (1-2 character terms), already escaped. */
  grams: string | null;
  conversationId?: string | undefined;
  from?: string | undefined;
  kind?: string | undefined;
  /** ts bounds, ms: after <= ts < before. */
  after?: number | undefined;
  before?: number | undefined;
  /** Only hits older (in mirror order) than this cursor. */
  cursor?: number | undefined;
  limit: number;
  /** Overrides of the scan bounds (tests). */
  scanMax?: number | undefined;
  visibleMax?: number | undefined;
  secondMax?: number | undefined;
}

export interface MessageHit {
  /** The hit's place in mirror order (pages continue below it). */
  id: number;
  message: Message;
  /** What the index matched (for the snippet). */
  text: string;
}

export interface MessagePage {
  hits: MessageHit[];
  /** Where the next page starts (exclusive), or null when the scan has seen every match. */
  next: number | null;
  /** The page ended because the scan bound was reached, not because `limit` hits were found. */
  capped: boolean;
}

type HitRow = MessageColumns & { id: number; conversation_id: string; text: string; [key: string]: unknown };

function page(rows: HitRow[], next: number | null, capped: boolean): MessagePage {
  return { hits: rows.map((r) => ({ id: r.id, message: messageFromRow(r.conversation_id, r), text: r.text })), next, capped };
}

/** The window's counts, on every row; the hit's columns, or a lone row of counts (`id` null) when nothing matched. */
type WindowRow = { scanned: number; low: number | null; gscanned: number; glow: number | null } & (HitRow | { id: null; [key: string]: unknown });

/**
 * One page of messages matching the query in conversations the user is a member of now, newest first (in
 * mirror order). Membership is joined in the query, never filtered afterwards.
 *
 * Every request examines a bounded window of index matches, newest first below the cursor, so no query
 * costs more than that however many matches the user cannot see: when the window fills before `limit`
 * hits are found, the page says so (`capped`) and the cursor continues below the window. Two plans:
 * - a searcher who sees few messages (at most SEARCH_VISIBLE_MAX): their messages, read from the
 *   position index, are checked against a window of up to SEARCH_MATCHES_MAX matches (a rowid set);
 * - otherwise the window is the newest SEARCH_SCAN_MAX matches (rowids only, cheap), each joined in
 *   that order to its message and the membership, and LIMIT stops at `limit` hits.
 * A query with terms for both indexes bounds its trigram window by the newest SEARCH_MATCHES_MAX matches of
 * the grams index, read first (cheap: one token per term).
 * Messages the searcher deleted for themself (hidden_messages) are left out in the query.
 * A date filter whose range holds at most DATE_WINDOW_MAX messages first narrows the window to their
 * ids (the ts index is ordered by time, ids by mirror order: the bounds are exact, read from the index).
 * Hand-written SQL: FTS5 MATCH, and plans pinned with INDEXED BY and CROSS JOIN, which drizzle's builder cannot say.
 */
export async function searchMessages(db: D1Database, s: MessageSearch): Promise<MessagePage> {
  const driver = s.trigram !== null ? "messages_fts" : "messages_grams";
  const match = s.trigram ?? s.grams;
  if (match === null) return { hits: [], next: null, capped: false };
  const visibleMax = s.visibleMax ?? SEARCH_VISIBLE_MAX;

  // What the searcher can see: their conversations and, as an upper bound of their messages there, the
  // sum of those conversations' lastSeq (a few rows, not one per message; without statistics SQLite would
  // rather scan the tenant's memberships through the covering primary key); for a date filter, the count
  // and id bounds of the tenant's messages in the range, read from the ts index up to the bound.
  const dated = s.after !== undefined || s.before !== undefined;
  const scope = await db
    .prepare(
      `SELECT count(*) AS conversations, coalesce(sum(c.last_seq), 0) AS visible,
         ${dated ? `(SELECT json_array(count(*), min(id), max(id)) FROM (SELECT id FROM messages INDEXED BY messages_tenant_ts
            WHERE tenant_id = ?1 AND ts >= ?4 AND ts < ?5 LIMIT ?6))` : "NULL"} AS span
       FROM memberships mb ${s.conversationId !== undefined ? "" : "INDEXED BY memberships_user "}CROSS JOIN conversations c ON c.tenant_id = mb.tenant_id AND c.id = mb.conversation_id
       WHERE mb.tenant_id = ?1 AND mb.user_id = ?2 AND ${s.conversationId !== undefined ? "mb.conversation_id = ?3" : "?3 IS NULL"}`,
    )
    .bind(s.tenantId, s.userId, s.conversationId ?? null, ...(dated ? [s.after ?? -1, s.before ?? Number.MAX_SAFE_INTEGER, DATE_WINDOW_MAX + 1] : []))
    .first<{ conversations: number; visible: number; span: string | null }>();
  const visible = scope?.visible ?? 0;
  if (!scope || scope.conversations === 0 || visible === 0) return { hits: [], next: null, capped: false };
  let lo: number | undefined;
  let hi: number | undefined;
  if (scope?.span) {
    const [n, min, max] = parseSpan(scope.span);
    if (n === 0) return { hits: [], next: null, capped: false };
    if (n <= DATE_WINDOW_MAX && min !== null && max !== null) [lo, hi] = [min, max];
  }

  const fromMemberships = visible <= visibleMax;
  const scanMax = s.scanMax ?? (fromMemberships ? SEARCH_MATCHES_MAX : SEARCH_SCAN_MAX);
  const binds: unknown[] = [s.tenantId, s.userId, match];
  const bind = (value: unknown) => {
    binds.push(value);
    return `?${binds.length}`;
  };
  // D1 binds every JavaScript number as a REAL, and FTS5 seeks to (and stops at) a rowid bound only when it
  // is an INTEGER: otherwise it walks the doclist from its end and SQLite filters. Hence the casts.
  const rowid = (value: number) => `CAST(${bind(value)} AS INTEGER)`;
  const bounds: string[] = [];
  if (s.cursor !== undefined) bounds.push(`rowid < ${rowid(s.cursor)}`);
  if (hi !== undefined) bounds.push(`rowid <= ${rowid(hi)}`);
  if (lo !== undefined) bounds.push(`rowid >= ${rowid(lo)}`);
  const window = [`${driver} MATCH ?3`, ...bounds];
  const scan = bind(scanMax);

  const where: string[] = [
    "m.tenant_id = ?1",
    "m.recalled = 0",
    "NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.tenant_id = ?1 AND h.user_id = ?2 AND h.conversation_id = m.conversation_id AND h.seq = m.seq)",
  ];
  // Two indexes: the grams one first (a 1-2 character term is one token, its doclist cheap to walk), newest
  // first below the cursor and at most SEARCH_MATCHES_MAX of its matches; the trigram window is then read only
  // above the oldest of them, since every hit matches both (an AND of trigram terms otherwise reads both
  // doclists down to its own bound). One match beyond the bound is read, so that a grams window holding every
  // remaining match is not taken for a full one; it is left out of the window (`glow` is one above it).
  const both = s.trigram !== null && s.grams !== null;
  const secondMax = s.secondMax ?? SEARCH_MATCHES_MAX;
  const gramsWindow = both
    ? `gcand AS MATERIALIZED (SELECT rowid AS id FROM messages_grams WHERE ${[`messages_grams MATCH ${bind(s.grams)}`, ...bounds].join(" AND ")}
           ORDER BY rowid DESC LIMIT ${bind(secondMax + 1)}),
         gwin AS MATERIALIZED (SELECT count(*) AS gscanned, CASE WHEN count(*) > ${bind(secondMax)} THEN min(id) + 1 ELSE min(id) END AS glow FROM gcand),`
    : "";
  if (both) window.push("rowid >= (SELECT coalesce(glow, 9223372036854775807) FROM gwin)");
  if (both) where.push(`m.id IN (SELECT id FROM gcand)`);
  if (s.conversationId !== undefined) where.push(`m.conversation_id = ${bind(s.conversationId)}`);
  if (s.from !== undefined) where.push(`m.sender = ${bind(s.from)}`);
  if (s.kind !== undefined) where.push(`m.kind = ${bind(s.kind)}`);
  if (s.after !== undefined) where.push(`m.ts >= ${bind(s.after)}`);
  if (s.before !== undefined) where.push(`m.ts < ${bind(s.before)}`);
  const limit = bind(s.limit);
  const columns = `m.id, m.conversation_id, m.seq, m.client_id, m.sender, m.kind, m.body, m.text, m.ts, m.edited_at, m.recalled`;
  // Otherwise the window is materialized once (the index is evaluated once); its rows are stored, and
  // scanned, in the order they were produced: newest first. Joining in that order (CROSS JOIN pins it, and
  // nothing asks for a sort) lets LIMIT stop at the first `limit` hits.
  const hits = fromMemberships
    ? `SELECT ${columns} FROM memberships mb INDEXED BY memberships_user CROSS JOIN messages m INDEXED BY messages_position
         ON m.tenant_id = mb.tenant_id AND m.conversation_id = mb.conversation_id
       WHERE mb.tenant_id = ?1 AND mb.user_id = ?2 AND m.id IN (SELECT id FROM cand) AND ${where.join(" AND ")}
       ORDER BY m.id DESC LIMIT ${limit}`
    : `SELECT ${columns} FROM cand
         CROSS JOIN messages m ON m.id = cand.id
         CROSS JOIN memberships mb ON mb.tenant_id = m.tenant_id AND mb.conversation_id = m.conversation_id AND mb.user_id = ?2
       WHERE ${where.join(" AND ")}
       LIMIT ${limit}`;
  if (!fromMemberships && !both) {
    // One index, many visible messages: stream the window and stop at `limit` hits, so a common query reads
    // a few dozen rows. Only a short page asks (a second, index-only statement) whether the window was used up.
    const { results: streamed } = await db
      .prepare(
        `SELECT ${columns} FROM (SELECT rowid AS id FROM ${driver} WHERE ${window.join(" AND ")} ORDER BY rowid DESC LIMIT ${scan}) AS cand
           CROSS JOIN messages m ON m.id = cand.id
           CROSS JOIN memberships mb ON mb.tenant_id = m.tenant_id AND mb.conversation_id = m.conversation_id AND mb.user_id = ?2
         WHERE ${where.join(" AND ")}
         LIMIT ${limit}`,
      )
      .bind(...binds)
      .all<HitRow>();
    const rows = streamed.sort((a, b) => b.id - a.id);
    if (rows.length >= s.limit) return page(rows, rows.at(-1)!.id, false);
    const win = await db
      .prepare(`SELECT count(*) AS scanned, min(id) AS low FROM (SELECT rowid AS id FROM ${driver} WHERE ${window.join(" AND ")} ORDER BY rowid DESC LIMIT ${scan})`)
      .bind(...binds.slice(0, Number(scan.slice(1))))
      .first<{ scanned: number; low: number | null }>();
    const full = win !== null && win.low !== null && win.scanned >= scanMax && !(lo !== undefined && win.low <= lo);
    return full ? page(rows, win.low, true) : page(rows, null, false);
  }
  const { results } = await db
    .prepare(
      `WITH ${gramsWindow}
            cand AS MATERIALIZED (SELECT rowid AS id FROM ${driver} WHERE ${window.join(" AND ")} ORDER BY rowid DESC LIMIT ${scan}),
            win AS MATERIALIZED (SELECT count(*) AS scanned, min(id) AS low FROM cand)
       SELECT win.scanned, win.low, ${both ? "gwin.gscanned, gwin.glow" : "0 AS gscanned, NULL AS glow"}, hit.*
       FROM win ${both ? "CROSS JOIN gwin " : ""}LEFT JOIN (${hits}) AS hit ORDER BY hit.id DESC`,
    )
    .bind(...binds)
    .all<WindowRow>();
  const rows = results.filter((r): r is WindowRow & HitRow => r.id !== null);
  if (rows.length >= s.limit) return page(rows, rows.at(-1)!.id, false);
  // Fewer hits than asked: either every match below the cursor was seen, or a window was used up. The trigram
  // window lies inside the grams one, so when it filled, its bottom is the page's.
  const counts = results[0];
  if (!counts) return page(rows, null, false);
  const bottom = counts.scanned >= scanMax && counts.low !== null ? counts.low : both && counts.gscanned > secondMax ? counts.glow : null;
  if (bottom === null || (lo !== undefined && bottom <= lo)) return page(rows, null, false);
  return page(rows, bottom, true);
}

/** The `json_array(count, min(id), max(id))` of the date-bounded scope query. */
function parseSpan(text: string): [number, number | null, number | null] {
  const span: unknown = JSON.parse(text);
  const idOrNull = (v: unknown) => v === null || typeof v === "number";
  if (!Array.isArray(span) || span.length !== 3) throw new Error("search scope span is not a 3-element JSON array");
  const [n, min, max]: unknown[] = span;
  if (typeof n !== "number" || !idOrNull(min) || !idOrNull(max)) throw new Error("search scope span is not [count, min id, max id]");
  return [n, typeof min === "number" ? min : null, typeof max === "number" ? max : null];
}

/** Record that a member deleted a message for themself (idempotent). */
export async function hideFromSearch(db: D1Database, h: { tenantId: string; userId: string; conversationId: string; seq: number }): Promise<void> {
  await drizzle(db).insert(hiddenMessages).values(h).onConflictDoNothing();
}

/** The user's conversations whose name, or another member's name or id, contains `q` (case-insensitive for Latin). */
export async function searchConversations(db: D1Database, tenantId: string, userId: string, q: string, limit: number): Promise<ConversationSummary[]> {
  const o = alias(memberships, "o");
  const contains = (text: SQL | SQLiteColumn) => sql`instr(lower(${text}), lower(${q})) > 0`;
  const otherMember = new QueryBuilder()
    .select({ one: sql`1` })
    .from(o)
    .innerJoin(users, and(eq(users.tenantId, o.tenantId), eq(users.id, o.userId)))
    .where(and(eq(o.tenantId, conversations.tenantId), eq(o.conversationId, conversations.id), ne(o.userId, userId), or(contains(users.name), contains(users.id))));
  return listConversationsWhere(db, tenantId, userId, or(contains(sql`coalesce(${conversations.name}, '')`), exists(otherMember)), limit);
}
