import type { ConversationType, Role } from "../domain/membership";
import type { MemberState, Room } from "../domain/store";
import type { SqlMigration } from "./sql-migrations";
import { EFFECTS_MIGRATION_SQL } from "./room-effects";

/**
 * The conversation object's SQLite schema, as ordered migrations in the order they apply (by version;
 * applied by room-header.ts when the conversation is created or its object starts).
 * The stored head of the room row (`version`, `last_seq`, `last_ts`, `countable_total`) and the
 * members' read cursors may trail the log by the appends since the row was last written (room-header.ts
 * recovers them on load): a migration that reads them must recover them from `messages` first.
 */
export const MIGRATIONS: SqlMigration[] = [
  {
    version: 1,
    name: "room, members, messages",
    sql: `
      CREATE TABLE room (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        tenant_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        type TEXT NOT NULL,
        name TEXT,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0,
        last_ts INTEGER,
        version INTEGER NOT NULL DEFAULT 1,
        mirrored_version INTEGER NOT NULL DEFAULT 0,
        mirror_attempts INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE members (
        user_id TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        read_seq INTEGER NOT NULL DEFAULT 0,
        muted INTEGER NOT NULL DEFAULT 0,
        joined_at INTEGER NOT NULL,
        version INTEGER NOT NULL,
        mirrored_version INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX members_unmirrored ON members (version, mirrored_version);
      CREATE TABLE messages (
        seq INTEGER PRIMARY KEY,
        client_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        ts INTEGER NOT NULL,
        edited_at INTEGER,
        recalled INTEGER NOT NULL DEFAULT 0
      );
      CREATE UNIQUE INDEX messages_idempotency ON messages (sender, client_id);
    `,
  },
  {
    version: 2,
    name: "notify outbox watermark",
    // Existing conversations start notified up to date: history is never re-announced.
    sql: `ALTER TABLE room ADD COLUMN notified_seq INTEGER NOT NULL DEFAULT 0;
          UPDATE room SET notified_seq = last_seq;`,
  },
  {
    version: 3,
    name: "history mirror watermark, message versions",
    // mirrored_seq starts at 0: the next flush copies the whole existing log to D1 (a backfill).
    sql: `ALTER TABLE room ADD COLUMN mirrored_seq INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE messages ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
          CREATE TABLE history_revised (seq INTEGER PRIMARY KEY, version INTEGER NOT NULL);`,
  },
  {
    version: 4,
    name: "message lifecycle: replies, unread ordinals, reactions, edits, hidden",
    // `ordinal` counts the messages people read (everything but `system` events), so unread counts
    // ignore reactions, edits and membership events: unread = countable_total - read_ordinal.
    sql: `ALTER TABLE messages ADD COLUMN reply_to INTEGER;
          ALTER TABLE messages ADD COLUMN ordinal INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE room ADD COLUMN countable_total INTEGER NOT NULL DEFAULT 0;
          ALTER TABLE members ADD COLUMN read_ordinal INTEGER NOT NULL DEFAULT 0;
          WITH o AS (SELECT seq, sum(kind != 'system') OVER (ORDER BY seq) AS ord FROM messages)
            UPDATE messages SET ordinal = (SELECT ord FROM o WHERE o.seq = messages.seq);
          UPDATE room SET countable_total = (SELECT count(*) FROM messages WHERE kind != 'system');
          UPDATE members SET read_ordinal = coalesce((SELECT max(ordinal) FROM messages WHERE seq <= members.read_seq), 0);
          CREATE TABLE reactions (seq INTEGER NOT NULL, user_id TEXT NOT NULL, emoji TEXT NOT NULL, created_at INTEGER NOT NULL,
                                  PRIMARY KEY (seq, emoji, user_id));
          CREATE TABLE message_edits (seq INTEGER NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL, edited_at INTEGER NOT NULL,
                                      PRIMARY KEY (seq, version));
          CREATE TABLE hidden (user_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (user_id, seq));`,
  },
  {
    version: 5,
    name: "outbound event outbox",
    sql: `CREATE TABLE outbound (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL);`,
  },
  {
    version: 6,
    name: "attachments",
    sql: `CREATE TABLE attachments (
            id TEXT PRIMARY KEY, uploader TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL,
            content_type TEXT NOT NULL, width INTEGER, height INTEGER, created_at INTEGER NOT NULL, sent_seq INTEGER);
          CREATE INDEX attachments_unsent ON attachments (created_at) WHERE sent_seq IS NULL;`,
  },
  {
    version: 7,
    name: "outbound events watermark",
    sql: `ALTER TABLE room ADD COLUMN outbound_seq INTEGER NOT NULL DEFAULT 0;
          UPDATE room SET outbound_seq = last_seq;`,
  },
  {
    version: 8,
    name: "one outbox of side effects",
    sql: EFFECTS_MIGRATION_SQL,
  },
  {
    // Every member write stamps the row with the room's version, so the rows D1 has not seen are
    // those above the room's mirrored version: a per-member watermark is one write per flush too many.
    version: 9,
    name: "members mirrored by the room's watermark",
    sql: `DROP INDEX members_unmirrored;
          ALTER TABLE members DROP COLUMN mirrored_version;
          CREATE INDEX members_version ON members (version);`,
  },
];

/** The room row: the domain's header plus the change counter and the watermarks of the side effects. */
export interface RoomRecord extends Room {
  lastTs: number | null;
  /** The change counter: bumped by every change the D1 mirror must copy. */
  version: number;
  mirroredVersion: number;
  mirrorAttempts: number;
  /** Highest seq whose notification presence has accepted (the notify outbox watermark). */
  notifiedSeq: number;
  /** Highest seq copied to the D1 history (the history mirror watermark). */
  mirroredSeq: number;
  /** How many messages people read (all but `system` events) the log has had. */
  countableTotal: number;
  /** Highest seq handed to the outbound CRM events (the message.created watermark). */
  outboundSeq: number;
}

export interface RoomRow {
  tenant_id: string;
  conversation_id: string;
  type: ConversationType;
  name: string | null;
  created_by: string;
  created_at: number;
  last_seq: number;
  last_ts: number | null;
  version: number;
  mirrored_version: number;
  mirror_attempts: number;
  notified_seq: number;
  mirrored_seq: number;
  countable_total: number;
  outbound_seq: number;
  [key: string]: SqlStorageValue;
}

export interface MemberRow {
  user_id: string;
  role: Role;
  active: number;
  read_seq: number;
  muted: number;
  joined_at: number;
  version: number;
  read_ordinal: number;
  [key: string]: SqlStorageValue;
}

export interface MessageRow {
  seq: number;
  client_id: string;
  sender: string;
  kind: string;
  body: string;
  ts: number;
  edited_at: number | null;
  recalled: number;
  version: number;
  reply_to: number | null;
  ordinal: number;
  [key: string]: SqlStorageValue;
}

export function roomFromRow(r: RoomRow): RoomRecord {
  return {
    tenantId: r.tenant_id,
    conversationId: r.conversation_id,
    type: r.type,
    name: r.name,
    createdBy: r.created_by,
    createdAt: r.created_at,
    lastSeq: r.last_seq,
    lastTs: r.last_ts,
    version: r.version,
    mirroredVersion: r.mirrored_version,
    mirrorAttempts: r.mirror_attempts,
    notifiedSeq: r.notified_seq,
    mirroredSeq: r.mirrored_seq,
    countableTotal: r.countable_total,
    outboundSeq: r.outbound_seq,
  };
}

export function memberFromRow(r: MemberRow): MemberState {
  return { userId: r.user_id, role: r.role, joinedAt: r.joined_at, readSeq: r.read_seq, readOrdinal: r.read_ordinal, muted: r.muted === 1 };
}


