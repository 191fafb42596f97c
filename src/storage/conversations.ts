import type { Role, ConversationType } from "../domain/membership";

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

/**
 * The statements of one flush, for one `batch()` (D1's only transaction). Re-running them changes
 * nothing: rows carry the object's change counter and an older copy never overwrites a newer one;
 * read cursors only move forward.
 */
export function mirrorStatements(db: D1Database, s: MirrorSnapshot): D1PreparedStatement[] {
  const statements = [
    db
      .prepare(
        `INSERT INTO conversations (tenant_id, id, type, name, created_at, last_seq, activity_at, last_message, version, message_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (tenant_id, id) DO UPDATE SET
           name = excluded.name, last_seq = excluded.last_seq, activity_at = excluded.activity_at,
           last_message = excluded.last_message, version = excluded.version, message_count = excluded.message_count
         WHERE excluded.version >= conversations.version`,
      )
      .bind(s.tenantId, s.conversationId, s.type, s.name, s.createdAt, s.lastSeq, s.activityAt, s.lastMessage, s.version, s.messageCount),
  ];
  if (s.upserts.length > 0) {
    statements.push(
      db
        .prepare(
          `INSERT INTO memberships (tenant_id, conversation_id, user_id, role, read_seq, read_count, muted, joined_at, version)
           SELECT ?1, ?2, j.value ->> '$.userId', j.value ->> '$.role', j.value ->> '$.readSeq', j.value ->> '$.readCount',
                  j.value ->> '$.muted', j.value ->> '$.joinedAt', j.value ->> '$.version'
           FROM json_each(?3) AS j WHERE true
           ON CONFLICT (tenant_id, conversation_id, user_id) DO UPDATE SET
             role = excluded.role, muted = excluded.muted, joined_at = excluded.joined_at,
             read_seq = max(memberships.read_seq, excluded.read_seq),
             read_count = max(memberships.read_count, excluded.read_count), version = excluded.version
           WHERE excluded.version >= memberships.version`,
        )
        .bind(s.tenantId, s.conversationId, JSON.stringify(s.upserts.map((m) => ({ ...m, muted: m.muted ? 1 : 0 })))),
    );
  }
  if (s.removals.length > 0) {
    statements.push(
      db
        .prepare(
          `DELETE FROM memberships
           WHERE tenant_id = ?1 AND conversation_id = ?2 AND EXISTS (
             SELECT 1 FROM json_each(?3) AS j
             WHERE j.value ->> '$.userId' = memberships.user_id AND j.value ->> '$.version' >= memberships.version)`,
        )
        .bind(s.tenantId, s.conversationId, JSON.stringify(s.removals)),
    );
  }
  if (s.history.length > 0) {
    // One statement per flush, rows as one JSON parameter. A replay changes nothing (version guard),
    // and the search index follows through the triggers of migration 0003.
    statements.push(
      db
        .prepare(
          `INSERT INTO messages (tenant_id, conversation_id, seq, client_id, sender, kind, body, text, grams, ts, edited_at, recalled, version)
           SELECT ?1, ?2, j.value ->> '$.seq', j.value ->> '$.clientId', j.value ->> '$.sender', j.value ->> '$.kind', j.value ->> '$.body',
                  j.value ->> '$.text', j.value ->> '$.grams', j.value ->> '$.ts', j.value ->> '$.editedAt',
                  j.value ->> '$.recalled', j.value ->> '$.version'
           FROM json_each(?3) AS j WHERE true
           ON CONFLICT (tenant_id, conversation_id, seq) DO UPDATE SET
             body = excluded.body, text = excluded.text, grams = excluded.grams, edited_at = excluded.edited_at,
             recalled = excluded.recalled, version = excluded.version
           WHERE excluded.version > messages.version`,
        )
        .bind(s.tenantId, s.conversationId, JSON.stringify(s.history)),
    );
  }
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

interface SummaryRow {
  id: string;
  unread: number;
  type: ConversationType;
  name: string | null;
  members: string;
  last_seq: number;
  read_seq: number;
  muted: number;
  role: Role;
  created_at: number;
  activity_at: number;
  last_message: string | null;
}

/** A user's conversations, most recent activity first: one D1 query. */
export async function listConversations(
  db: D1Database,
  tenantId: string,
  userId: string,
  limit: number,
): Promise<ConversationSummary[]> {
  return listConversationsWhere(db, tenantId, userId, "true", [], limit);
}

/**
 * A user's conversations that also satisfy `condition` (SQL over `c`, the conversation, with ?1 the
 * tenant, ?2 the user, ?3 the limit and ?4… the extra binds), most recent activity first.
 */
export async function listConversationsWhere(
  db: D1Database,
  tenantId: string,
  userId: string,
  condition: string,
  binds: readonly unknown[],
  limit: number,
): Promise<ConversationSummary[]> {
  const { results } = await db
    .prepare(
      `SELECT c.id, c.type, c.name, c.last_seq, c.created_at, c.activity_at, c.last_message,
              max(c.message_count - m.read_count, 0) AS unread, m.read_seq, m.muted, m.role,
              (SELECT json_group_array(o.user_id) FROM memberships o
                WHERE o.tenant_id = c.tenant_id AND o.conversation_id = c.id) AS members
       FROM memberships m
       JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
       WHERE m.tenant_id = ?1 AND m.user_id = ?2 AND ${condition}
       ORDER BY c.activity_at DESC, c.id
       LIMIT ?3`,
    )
    .bind(tenantId, userId, limit, ...binds)
    .all<SummaryRow>();
  return results.map((r) => ({
    id: r.id,
    type: r.type,
    name: r.name,
    members: (JSON.parse(r.members) as string[]).sort(),
    lastSeq: r.last_seq,
    readSeq: r.read_seq,
    unread: r.unread,
    muted: r.muted === 1,
    role: r.role,
    createdAt: r.created_at,
    activityAt: r.activity_at,
    lastMessage: r.last_message ? (JSON.parse(r.last_message) as Record<string, unknown>) : null,
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
  const { results } = await db
    .prepare(
      `SELECT m.user_id AS userId, COALESCE(SUM(max(c.message_count - m.read_count, 0)), 0) AS unread
       FROM memberships m
       JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
       WHERE m.tenant_id = ?1 AND m.conversation_id != ?2 AND m.user_id IN (SELECT value FROM json_each(?3))
       GROUP BY m.user_id`,
    )
    .bind(tenantId, exceptConversationId, JSON.stringify(userIds))
    .all<{ userId: string; unread: number }>();
  return new Map(results.map((r) => [r.userId, r.unread]));
}

/** For each given user, everyone who shares a conversation with them: one query. */
export async function contactsOf(db: D1Database, tenantId: string, userIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(userIds.map((u) => [u, []]));
  if (userIds.length === 0) return out;
  const { results } = await db
    .prepare(
      `SELECT DISTINCT m.user_id AS userId, o.user_id AS contact
       FROM memberships m
       JOIN memberships o ON o.tenant_id = m.tenant_id AND o.conversation_id = m.conversation_id
       WHERE m.tenant_id = ?1 AND m.user_id IN (SELECT value FROM json_each(?2)) AND o.user_id != m.user_id`,
    )
    .bind(tenantId, JSON.stringify(userIds))
    .all<{ userId: string; contact: string }>();
  for (const r of results) out.get(r.userId)?.push(r.contact);
  return out;
}
