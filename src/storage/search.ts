import type { ConversationSummary } from "./conversations";
import { listConversationsWhere } from "./conversations";

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
}

export interface MessageHit {
  id: number;
  conversationId: string;
  seq: number;
  clientId: string;
  sender: string;
  kind: string;
  body: string;
  text: string;
  ts: number;
  editedAt: number | null;
}

interface HitRow extends MessageHit {
  [key: string]: unknown;
}

/**
 * Messages matching the query in conversations the user is a member of, newest first. Membership is
 * joined in the query, never filtered afterwards. The FTS index drives the plan in descending rowid
 * (mirror) order, so LIMIT stops the scan early even for common terms; CROSS JOIN pins that order
 * (with a date filter SQLite would otherwise start from the ts index and probe FTS once per message
 * in range: seconds at a million messages).
 */
export async function searchMessages(db: D1Database, s: MessageSearch): Promise<MessageHit[]> {
  const driver = s.trigram !== null ? "messages_fts" : "messages_grams";
  const match = s.trigram ?? s.grams;
  if (match === null) return [];
  const where: string[] = [`${driver} MATCH ?3`, "m.tenant_id = ?1", "m.recalled = 0"];
  const binds: unknown[] = [s.tenantId, s.userId, match];
  const bind = (value: unknown) => {
    binds.push(value);
    return `?${binds.length}`;
  };
  if (s.trigram !== null && s.grams !== null) where.push(`m.id IN (SELECT rowid FROM messages_grams WHERE messages_grams MATCH ${bind(s.grams)})`);
  if (s.conversationId !== undefined) where.push(`m.conversation_id = ${bind(s.conversationId)}`);
  if (s.from !== undefined) where.push(`m.sender = ${bind(s.from)}`);
  if (s.kind !== undefined) where.push(`m.kind = ${bind(s.kind)}`);
  if (s.after !== undefined) where.push(`m.ts >= ${bind(s.after)}`);
  if (s.before !== undefined) where.push(`m.ts < ${bind(s.before)}`);
  if (s.cursor !== undefined) where.push(`${driver}.rowid < ${bind(s.cursor)}`);
  const limit = bind(s.limit);
  const { results } = await db
    .prepare(
      `SELECT m.id, m.conversation_id AS conversationId, m.seq, m.client_id AS clientId, m.sender, m.kind, m.body, m.text, m.ts, m.edited_at AS editedAt
       FROM ${driver}
       CROSS JOIN messages m ON m.id = ${driver}.rowid
       CROSS JOIN memberships mb ON mb.tenant_id = m.tenant_id AND mb.conversation_id = m.conversation_id AND mb.user_id = ?2
       WHERE ${where.join(" AND ")}
       ORDER BY ${driver}.rowid DESC
       LIMIT ${limit}`,
    )
    .bind(...binds)
    .all<HitRow>();
  return results;
}

/** The user's conversations whose name, or another member's name or id, contains `q` (case-insensitive for Latin). */
export async function searchConversations(db: D1Database, tenantId: string, userId: string, q: string, limit: number): Promise<ConversationSummary[]> {
  return listConversationsWhere(
    db,
    tenantId,
    userId,
    `(instr(lower(coalesce(c.name, '')), lower(?4)) > 0 OR EXISTS (
        SELECT 1 FROM memberships o JOIN users u ON u.tenant_id = o.tenant_id AND u.id = o.user_id
        WHERE o.tenant_id = c.tenant_id AND o.conversation_id = c.id AND o.user_id != ?2
          AND (instr(lower(u.name), lower(?4)) > 0 OR instr(lower(u.id), lower(?4)) > 0)))`,
    [q],
    limit,
  );
}
