import { drizzle } from "drizzle-orm/d1";
import { and, asc, desc, eq, ne, sql, type SQL } from "drizzle-orm";
import { alias, QueryBuilder } from "drizzle-orm/sqlite-core";
import { conversations, memberships, messages } from "./schema";
import { compiled, excluded, inJson, jsonRows } from "./d1";
import type { Role, ConversationType } from "../domain/membership";
import { parseStoredObject, parseStoredStrings } from "../protocol/json";

/**
 * The D1 mirror of conversations: written by each conversation object's outbox flush, read by the
 * tenant-wide queries ("my conversations"). Every statement binds a handful of parameters and carries
 * row sets as one JSON parameter (`json_each`), so D1's 100-parameter limit never depends on group size.
 */

export interface MirrorMember {
  userId: string;
  role: Role;
  readSeq: number;
  readCount: number;
  muted: boolean;
  joinedAt: number;
  version: number;
}

export interface MirrorSnapshot {
  tenantId: string;
  conversationId: string;
  type: ConversationType;
  name: string | null;
  createdAt: number;
  lastSeq: number;
  activityAt: number;
  /** The last message as JSON (with a preview), or null before the first message. */
  lastMessage: string | null;
  version: number;
  /** Countable messages so far (see room-store: unread excludes `system` events). */
  messageCount: number;
  /** Members whose row changed since the last flush. */
  upserts: MirrorMember[];
  /** Members who left or were removed since the last flush. */
  removals: { userId: string; version: number }[];
  /** Messages to copy to the D1 history, ascending seq (bounded per flush). */
  history: HistoryRow[];
  /** The seq the history is complete up to once this flush lands. */
  historyThrough: number;
  /** Already-mirrored messages whose revision (edit, recall) this flush carries. */
  revised: { seq: number; version: number }[];
}

/** One message as the D1 history holds it. */
export interface HistoryRow {
  seq: number;
  clientId: string;
  sender: string;
  kind: string;
  /** The body as JSON text. */
  body: string;
  /** What full-text search indexes; empty for recalled messages. */
  text: string;
  /** `text` with CJK runs spelled out as characters and pairs (see domain/search.ts). */
  grams: string;
  ts: number;
  editedAt: number | null;
  recalled: number;
  version: number;
}

const p = sql.placeholder;
/** The conversation and member columns every flush statement is scoped by. */
const scope = { tenantId: p("tenantId"), conversationId: p("conversationId") };

/** The conversation row: a newer version replaces an older one, never the reverse. */
const upsertConversation = compiled((orm) =>
  orm
    .insert(conversations)
    .values({
      tenantId: p("tenantId"),
      id: p("conversationId"),
      type: p("type"),
      name: p("name"),
      createdAt: p("createdAt"),
      lastSeq: p("lastSeq"),
      activityAt: p("activityAt"),
      lastMessage: p("lastMessage"),
      version: p("version"),
      messageCount: p("messageCount"),
    })
    .onConflictDoUpdate({
      target: [conversations.tenantId, conversations.id],
      set: {
        name: excluded(conversations.name),
        lastSeq: excluded(conversations.lastSeq),
        activityAt: excluded(conversations.activityAt),
        lastMessage: excluded(conversations.lastMessage),
        version: excluded(conversations.version),
        messageCount: excluded(conversations.messageCount),
      },
      setWhere: sql`${excluded(conversations.version)} >= ${conversations.version}`,
    }),
);

/** Member rows (one JSON parameter); read cursors only move forward. */
const upsertMembers = compiled((orm) =>
  orm
    .insert(memberships)
    .select(jsonRows(memberships, p("rows"), scope))
    .onConflictDoUpdate({
      target: [memberships.tenantId, memberships.conversationId, memberships.userId],
      set: {
        role: excluded(memberships.role),
        muted: excluded(memberships.muted),
        joinedAt: excluded(memberships.joinedAt),
        readSeq: sql`max(${memberships.readSeq}, ${excluded(memberships.readSeq)})`,
        readCount: sql`max(${memberships.readCount}, ${excluded(memberships.readCount)})`,
        version: excluded(memberships.version),
      },
      setWhere: sql`${excluded(memberships.version)} >= ${memberships.version}`,
    }),
);

/** Members who left, unless a newer row (they rejoined) is already there. */
const deleteMembers = compiled((orm) =>
  orm.delete(memberships).where(
    and(
      eq(memberships.tenantId, p("tenantId")),
      eq(memberships.conversationId, p("conversationId")),
      sql`EXISTS (SELECT 1 FROM json_each(${p("rows")}) AS j
                  WHERE j.value ->> '$.userId' = ${memberships.userId} AND j.value ->> '$.version' >= ${memberships.version})`,
    ),
  ),
);

/**
 * History rows, one JSON parameter per flush. A replay changes nothing (version guard), and the
 * search index follows through the triggers of migration 0003.
 */
const upsertHistory = compiled((orm) =>
  orm
    .insert(messages)
    .select(jsonRows(messages, p("rows"), { id: null, ...scope }))
    .onConflictDoUpdate({
      target: [messages.tenantId, messages.conversationId, messages.seq],
      set: {
        body: excluded(messages.body),
        text: excluded(messages.text),
        grams: excluded(messages.grams),
        editedAt: excluded(messages.editedAt),
        recalled: excluded(messages.recalled),
        version: excluded(messages.version),
      },
      setWhere: sql`${excluded(messages.version)} > ${messages.version}`,
    }),
);

/**
 * The statements of one flush, for one `batch()` (D1's only transaction). Re-running them changes
 * nothing: rows carry the object's change counter and an older copy never overwrites a newer one;
 * read cursors only move forward. D1 statements rather than drizzle queries, because the flush sends
 * them in one batch with statements built elsewhere; their SQL text is built once (`compiled`).
 */
export function mirrorStatements(db: D1Database, s: MirrorSnapshot): D1PreparedStatement[] {
  const where = { tenantId: s.tenantId, conversationId: s.conversationId };
  const statements = [
    upsertConversation(db, {
      ...where,
      type: s.type,
      name: s.name,
      createdAt: s.createdAt,
      lastSeq: s.lastSeq,
      activityAt: s.activityAt,
      lastMessage: s.lastMessage,
      version: s.version,
      messageCount: s.messageCount,
    }),
  ];
  if (s.upserts.length > 0) statements.push(upsertMembers(db, { ...where, rows: JSON.stringify(s.upserts.map((u) => ({ ...u, muted: u.muted ? 1 : 0 }))) }));
  if (s.removals.length > 0) statements.push(deleteMembers(db, { ...where, rows: JSON.stringify(s.removals) }));
  if (s.history.length > 0) statements.push(upsertHistory(db, { ...where, rows: JSON.stringify(s.history) }));
  return statements;
}

export interface ConversationSummary {
  id: string;
  type: ConversationType;
  name: string | null;
  members: string[];
  lastSeq: number;
  readSeq: number;
  unread: number;
  muted: boolean;
  role: Role;
  createdAt: number;
  activityAt: number;
  lastMessage: Record<string, unknown> | null;
}

/** A user's conversations, most recent activity first: one D1 query. */
export async function listConversations(db: D1Database, tenantId: string, userId: string, limit: number): Promise<ConversationSummary[]> {
  return listConversationsWhere(db, tenantId, userId, undefined, limit);
}

/** A user's conversations that also satisfy `condition` (over `conversations` and the user's `memberships` row), most recent activity first. */
export async function listConversationsWhere(
  db: D1Database,
  tenantId: string,
  userId: string,
  condition: SQL | undefined,
  limit: number,
): Promise<ConversationSummary[]> {
  const c = conversations;
  const m = memberships;
  const o = alias(memberships, "o");
  const rows = await drizzle(db)
    .select({
      id: c.id,
      type: c.type,
      name: c.name,
      lastSeq: c.lastSeq,
      createdAt: c.createdAt,
      activityAt: c.activityAt,
      lastMessage: c.lastMessage,
      unread: sql<number>`max(${c.messageCount} - ${m.readCount}, 0)`,
      readSeq: m.readSeq,
      muted: m.muted,
      role: m.role,
      members: sql<string>`(${new QueryBuilder()
        .select({ ids: sql`json_group_array(${o.userId})` })
        .from(o)
        .where(and(eq(o.tenantId, c.tenantId), eq(o.conversationId, c.id)))})`,
    })
    .from(m)
    .innerJoin(c, and(eq(c.tenantId, m.tenantId), eq(c.id, m.conversationId)))
    .where(and(eq(m.tenantId, tenantId), eq(m.userId, userId), condition))
    .orderBy(desc(c.activityAt), asc(c.id))
    .limit(limit)
    .all();
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    name: r.name,
    members: parseStoredStrings(r.members, "conversations.members").sort(),
    lastSeq: r.lastSeq,
    readSeq: r.readSeq,
    unread: r.unread,
    muted: r.muted,
    role: r.role,
    createdAt: r.createdAt,
    activityAt: r.activityAt,
    lastMessage: r.lastMessage ? parseStoredObject(r.lastMessage, "conversations.last_message") : null,
  }));
}

/** Each user's unread total over their conversations other than `exceptConversationId`: one query. */
export async function unreadElsewhere(
  db: D1Database,
  tenantId: string,
  exceptConversationId: string,
  userIds: readonly string[],
): Promise<Map<string, number>> {
  if (userIds.length === 0) return new Map();
  const c = conversations;
  const m = memberships;
  const rows = await drizzle(db)
    .select({ userId: m.userId, unread: sql<number>`coalesce(sum(max(${c.messageCount} - ${m.readCount}, 0)), 0)` })
    .from(m)
    .innerJoin(c, and(eq(c.tenantId, m.tenantId), eq(c.id, m.conversationId)))
    .where(and(eq(m.tenantId, tenantId), ne(m.conversationId, exceptConversationId), inJson(m.userId, userIds)))
    .groupBy(m.userId)
    .all();
  return new Map(rows.map((r) => [r.userId, r.unread]));
}

/** For each given user, everyone who shares a conversation with them: one query. */
export async function contactsOf(db: D1Database, tenantId: string, userIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(userIds.map((u) => [u, []]));
  if (userIds.length === 0) return out;
  const m = memberships;
  const o = alias(memberships, "o");
  const rows = await drizzle(db)
    .selectDistinct({ userId: m.userId, contact: o.userId })
    .from(m)
    .innerJoin(o, and(eq(o.tenantId, m.tenantId), eq(o.conversationId, m.conversationId)))
    .where(and(eq(m.tenantId, tenantId), inJson(m.userId, userIds), ne(o.userId, m.userId)))
    .all();
  for (const r of rows) out.get(r.userId)?.push(r.contact);
  return out;
}
