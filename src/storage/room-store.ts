import type { JsonObject, Message } from "../protocol/frames";
import { advanceReadCursor, type ConversationType, type Member, type Role } from "../domain/membership";
import { previewOf } from "../domain/kinds";
import { applySqlMigrations, type SqlMigration } from "./sql-migrations";
import type { HistoryRow, MirrorSnapshot } from "./conversations";
import { cjkGrams, searchableText } from "../domain/search";
import { utf8Length } from "../domain/kinds";
import { EFFECTS_MIGRATION_SQL, EffectOutbox } from "./room-effects";

/**
 * The conversation object's own SQLite: the room header, members with read cursors, and the ordered log.
 * Every method is synchronous, so each one is a single implicit transaction of the object, and a
 * caller that does not await between a write and a broadcast cannot broadcast before the write.
 */
const MIGRATIONS: SqlMigration[] = [
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
    version: 5,
    name: "outbound event outbox",
    sql: `CREATE TABLE outbound (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL);`,
  },
  {
    version: 7,
    name: "outbound events watermark",
    sql: `ALTER TABLE room ADD COLUMN outbound_seq INTEGER NOT NULL DEFAULT 0;
          UPDATE room SET outbound_seq = last_seq;`,
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
    version: 8,
    name: "one outbox of side effects",
    sql: EFFECTS_MIGRATION_SQL,
  },
];

/** Most UTF-8 bytes of history rows in one mirror flush (well under D1's 2 MB per bound value). */
const MIRROR_MESSAGE_BYTES = 900 * 1024;
const MIRROR_MESSAGES_MAX = 2_000;

export interface Room {
  tenantId: string;
  conversationId: string;
  type: ConversationType;
  name: string | null;
  createdBy: string;
  createdAt: number;
  lastSeq: number;
  lastTs: number | null;
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

export interface MemberState extends Member {
  readSeq: number;
  /** The ordinal of the last countable message at or before readSeq. */
  readOrdinal: number;
  muted: boolean;
}

interface RoomRow {
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

interface MemberRow {
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

interface MessageRow {
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

export interface AttachmentRecord {
  id: string;
  uploader: string;
  name: string;
  size: number;
  contentType: string;
  width?: number;
  height?: number;
  createdAt: number;
  sentSeq?: number | null;
}

export type SendResult = { status: "created"; message: Message } | { status: "duplicate"; message: Message };

export class RoomStore {
  private readonly sql: SqlStorage;
  private room: Room | null | undefined;
  private members: Map<string, MemberState> | undefined;

  /** Durable side effects (R2 deletes, CRM events), written with the changes that cause them. */
  readonly effects: EffectOutbox;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.effects = new EffectOutbox(storage.sql);
  }

  /**
   * Bring the schema up to date, but only in an object that holds a conversation: an id nobody
   * created must store nothing (a read of the empty catalog writes no file). Call once, at construction.
   */
  migrateIfCreated(): void {
    if (this.hasSchema()) applySqlMigrations(this.storage, MIGRATIONS);
  }

  private schemaReady: boolean | undefined;

  private hasSchema(): boolean {
    this.schemaReady ??= this.sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'room'`).toArray().length > 0;
    return this.schemaReady;
  }

  /** The room header, or null before the conversation was created. Cached until the object hibernates. */
  getRoom(): Room | null {
    if (this.room === undefined) {
      if (!this.hasSchema()) return null;
      const row = this.sql.exec<RoomRow>(`SELECT * FROM room WHERE id = 1`).toArray()[0];
      this.room = row ? roomFromRow(row) : null;
      this.persistedNotifiedSeq = row?.notified_seq ?? 0;
    }
    return this.room;
  }

  requireRoom(): Room {
    const room = this.getRoom();
    if (!room) throw new Error("conversation object used before it was created");
    return room;
  }

  /** Create the room and its first members. */
  create(init: {
    tenantId: string;
    conversationId: string;
    type: ConversationType;
    name: string | null;
    createdBy: string;
    members: { userId: string; role: Role }[];
    now: number;
  }): void {
    if (!this.hasSchema()) {
      applySqlMigrations(this.storage, MIGRATIONS);
      this.schemaReady = true;
    }
    this.sql.exec(
      `INSERT INTO room (id, tenant_id, conversation_id, type, name, created_by, created_at, version) VALUES (1, ?, ?, ?, ?, ?, ?, 1)`,
      init.tenantId,
      init.conversationId,
      init.type,
      init.name,
      init.createdBy,
      init.now,
    );
    for (const m of init.members) {
      this.sql.exec(`INSERT INTO members (user_id, role, joined_at, version) VALUES (?, ?, ?, 1)`, m.userId, m.role, init.now);
    }
    this.room = undefined;
    this.members = undefined;
  }

  /** Active members by user id. Cached until the object hibernates. */
  activeMembers(): Map<string, MemberState> {
    if (!this.members) {
      const rows = this.sql.exec<MemberRow>(`SELECT * FROM members WHERE active = 1`).toArray();
      this.members = new Map(rows.map((r) => [r.user_id, memberFromRow(r)]));
    }
    return this.members;
  }

  member(userId: string): MemberState | undefined {
    return this.activeMembers().get(userId);
  }

  /** Bump the change counter that tells the outbox what to mirror; returns the new version. */
  private bump(): number {
    const room = this.requireRoom();
    room.version += 1;
    this.sql.exec(`UPDATE room SET version = ? WHERE id = 1`, room.version);
    return room.version;
  }

  /** The message this sender stored under this clientId, if any (the idempotency key). */
  findByClientId(sender: string, clientId: string): Message | undefined {
    const row = this.sql
      .exec<MessageRow>(`SELECT * FROM messages WHERE sender = ? AND client_id = ?`, sender, clientId)
      .toArray()[0];
    return row ? messageFromRow(this.requireRoom().conversationId, row) : undefined;
  }

  /** Append a message, or return the one this sender already stored under this clientId. */
  append(input: { sender: string; clientId: string; kind: string; body: JsonObject; now: number; replyTo?: number | undefined }): SendResult {
    const room = this.requireRoom();
    const seq = room.lastSeq + 1;
    // One UPDATE of the room row per message (change counter, head, activity): this is the hot path.
    const version = room.version + 1;
    const countable = input.kind !== "system";
    const ordinal = room.countableTotal + (countable ? 1 : 0);
    // The unique (sender, client_id) index is the idempotency check: a retry inserts nothing.
    const inserted = this.sql.exec(
      `INSERT INTO messages (seq, client_id, sender, kind, body, ts, reply_to, ordinal) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (sender, client_id) DO NOTHING`,
      seq,
      input.clientId,
      input.sender,
      input.kind,
      JSON.stringify(input.body),
      input.now,
      input.replyTo ?? null,
      ordinal,
    ).rowsWritten;
    if (inserted === 0) {
      const existing = this.findByClientId(input.sender, input.clientId);
      if (!existing) throw new Error(`message ${input.sender}/${input.clientId} was neither inserted nor found`);
      return { status: "duplicate", message: existing };
    }
    if (countable) {
      this.sql.exec(`UPDATE room SET version = ?, last_seq = ?, last_ts = ?, countable_total = ? WHERE id = 1`, version, seq, input.now, ordinal);
      room.lastTs = input.now;
    } else {
      this.sql.exec(`UPDATE room SET version = ?, last_seq = ? WHERE id = 1`, version, seq);
    }
    room.version = version;
    room.lastSeq = seq;
    room.countableTotal = ordinal;
    // A sender has read what they sent.
    const sender = this.member(input.sender);
    if (sender && sender.readSeq < seq) {
      this.sql.exec(`UPDATE members SET read_seq = ?, read_ordinal = ?, version = ? WHERE user_id = ?`, seq, ordinal, version, input.sender);
      sender.readSeq = seq;
      sender.readOrdinal = ordinal;
    }
    const message: Message = {
      conversationId: room.conversationId,
      seq,
      clientId: input.clientId,
      sender: input.sender,
      kind: input.kind,
      body: input.body,
      ts: input.now,
    };
    if (input.replyTo !== undefined) message.replyTo = input.replyTo;
    return { status: "created", message };
  }

  /** One stored message, as stored (no per-reader decoration). */
  message(seq: number): Message | undefined {
    const row = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE seq = ?`, seq).toArray()[0];
    return row ? messageFromRow(this.requireRoom().conversationId, row) : undefined;
  }

  /** The last message people read (not a `system` event), for previews. */
  lastCountable(): Message | undefined {
    const row = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE kind != 'system' ORDER BY seq DESC LIMIT 1`).toArray()[0];
    return row ? messageFromRow(this.requireRoom().conversationId, row) : undefined;
  }

  /** Unread messages of a member: countable messages after their read cursor. */
  unreadOf(member: MemberState): number {
    return Math.max(0, this.requireRoom().countableTotal - member.readOrdinal);
  }

  /** Add or remove one reaction; true when something changed. */
  setReaction(seq: number, userId: string, emoji: string, add: boolean, now: number): boolean {
    const changed = add
      ? this.sql.exec(`INSERT INTO reactions (seq, user_id, emoji, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, seq, userId, emoji, now).rowsWritten
      : this.sql.exec(`DELETE FROM reactions WHERE seq = ? AND user_id = ? AND emoji = ?`, seq, userId, emoji).rowsWritten;
    return changed > 0;
  }

  /** Distinct emoji a user has put on a message. */
  reactionCount(seq: number, userId: string): number {
    return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM reactions WHERE seq = ? AND user_id = ?`, seq, userId).one().n;
  }

  /** Reactions of messages in [from, to]: seq -> emoji -> user ids (in the order they reacted). */
  reactionsBetween(from: number, to: number): Map<number, Record<string, string[]>> {
    // Emoji are chosen by users: group them in Maps, so that `:__proto__:` or `constructor` is an
    // ordinary key. Object.fromEntries defines own properties, so the result is safe to serialise
    // and to structured-clone across RPC (an object without a prototype is not).
    const grouped = new Map<number, Map<string, string[]>>();
    for (const r of this.sql.exec<{ seq: number; emoji: string; user_id: string }>(
      `SELECT seq, emoji, user_id FROM reactions WHERE seq BETWEEN ? AND ? ORDER BY seq, emoji, created_at, user_id`,
      from,
      to,
    )) {
      let byEmoji = grouped.get(r.seq);
      if (!byEmoji) grouped.set(r.seq, (byEmoji = new Map()));
      const users = byEmoji.get(r.emoji);
      if (users) users.push(r.user_id);
      else byEmoji.set(r.emoji, [r.user_id]);
    }
    return new Map([...grouped].map(([seq, byEmoji]) => [seq, Object.fromEntries(byEmoji)]));
  }

  /** Keep the body a message had before an edit. */
  recordEdit(seq: number, version: number, body: JsonObject, editedAt: number): void {
    this.sql.exec(`INSERT OR IGNORE INTO message_edits (seq, version, body, edited_at) VALUES (?, ?, ?, ?)`, seq, version, JSON.stringify(body), editedAt);
  }

  /** Earlier bodies of a message, oldest first, with the time each was replaced. */
  edits(seq: number): { version: number; body: JsonObject; replacedAt: number }[] {
    return this.sql
      .exec<{ version: number; body: string; edited_at: number }>(`SELECT version, body, edited_at FROM message_edits WHERE seq = ? ORDER BY version`, seq)
      .toArray()
      .map((r) => ({ version: r.version, body: JSON.parse(r.body) as JsonObject, replacedAt: r.edited_at }));
  }

  /** The stored version of a message (bumped by every revision). */
  versionOf(seq: number): number | undefined {
    return this.sql.exec<{ version: number }>(`SELECT version FROM messages WHERE seq = ?`, seq).toArray()[0]?.version;
  }

  registerAttachment(a: AttachmentRecord): void {
    this.sql.exec(
      `INSERT INTO attachments (id, uploader, name, size, content_type, width, height, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      a.id,
      a.uploader,
      a.name,
      a.size,
      a.contentType,
      a.width ?? null,
      a.height ?? null,
      a.createdAt,
    );
  }

  attachment(id: string): AttachmentRecord | undefined {
    const r = this.sql
      .exec<{ id: string; uploader: string; name: string; size: number; content_type: string; width: number | null; height: number | null; created_at: number; sent_seq: number | null }>(
        `SELECT * FROM attachments WHERE id = ?`,
        id,
      )
      .toArray()[0];
    if (!r) return undefined;
    const record: AttachmentRecord = { id: r.id, uploader: r.uploader, name: r.name, size: r.size, contentType: r.content_type, createdAt: r.created_at, sentSeq: r.sent_seq };
    if (r.width !== null) record.width = r.width;
    if (r.height !== null) record.height = r.height;
    return record;
  }

  markAttachmentSent(id: string, seq: number): void {
    this.sql.exec(`UPDATE attachments SET sent_seq = coalesce(sent_seq, ?) WHERE id = ?`, seq, id);
  }

  /** Uploads never sent, created before `cutoff`. */
  orphanAttachments(cutoff: number, limit = 100): string[] {
    return this.sql
      .exec<{ id: string }>(`SELECT id FROM attachments WHERE sent_seq IS NULL AND created_at < ? ORDER BY created_at LIMIT ?`, cutoff, limit)
      .toArray()
      .map((r) => r.id);
  }

  /** When the oldest unsent upload was made, if any. */
  oldestUnsentAttachment(): number | undefined {
    return this.sql.exec<{ t: number | null }>(`SELECT min(created_at) AS t FROM attachments WHERE sent_seq IS NULL`).one().t ?? undefined;
  }

  /** The seq of the first card about a CRM object in this conversation, if any. */
  firstCard(source: string, objectType: string, objectId: string): number | undefined {
    return (
      this.sql
        .exec<{ seq: number }>(
          `SELECT seq FROM messages WHERE kind = 'crm' AND body ->> '$.source' = ? AND body ->> '$.objectType' = ? AND body ->> '$.objectId' = ?
           ORDER BY seq LIMIT 1`,
          source,
          objectType,
          objectId,
        )
        .toArray()[0]?.seq ?? undefined
    );
  }

  /** Record an event for the tenant's outbound CRM webhooks (the outbox hands it to the queue). */
  enqueueOutbound(type: "card.action" | "approval.decided", payload: JsonObject, now: number): void {
    this.effects.add(`e${crypto.randomUUID()}`, { kind: "outbound", type, payload, createdAt: now }, now);
  }

  markOutboundSeq(seq: number): void {
    const room = this.requireRoom();
    if (seq <= room.outboundSeq) return;
    this.sql.exec(`UPDATE room SET outbound_seq = ? WHERE id = 1`, seq);
    room.outboundSeq = seq;
  }

  /** Forget an attachment and, in the same transaction, schedule the deletion of its bytes. */
  discardAttachment(id: string, now: number): void {
    this.sql.exec(`DELETE FROM attachments WHERE id = ?`, id);
    this.effects.add(`file:${id}`, { kind: "file.delete", attachmentId: id }, now);
  }

  /** The `message_edited` events about a message (they carry its body). */
  editEventsOf(seq: number): Message[] {
    const room = this.requireRoom();
    return this.sql
      .exec<MessageRow>(
        `SELECT * FROM messages WHERE kind = 'system' AND body ->> '$.event' = 'message_edited' AND body ->> '$.target' = ?`,
        seq,
      )
      .toArray()
      .map((r) => messageFromRow(room.conversationId, r));
  }

  /** Drop a message's edit history (a recall removes every trace of the body). */
  forgetEdits(seq: number): void {
    this.sql.exec(`DELETE FROM message_edits WHERE seq = ?`, seq);
  }

  hide(userId: string, seq: number): boolean {
    return this.sql.exec(`INSERT INTO hidden (user_id, seq) VALUES (?, ?) ON CONFLICT DO NOTHING`, userId, seq).rowsWritten > 0;
  }

  hiddenBetween(userId: string, from: number, to: number): Set<number> {
    return new Set(
      this.sql.exec<{ seq: number }>(`SELECT seq FROM hidden WHERE user_id = ? AND seq BETWEEN ? AND ?`, userId, from, to).toArray().map((r) => r.seq),
    );
  }

  /** Messages in ascending seq: after < seq < before, the first `limit` after `after`, or the last `limit` before `before`. */
  page(range: { after?: number | undefined; before?: number | undefined; limit: number }): Message[] {
    const room = this.requireRoom();
    const after = range.after ?? 0;
    const before = range.before ?? Number.MAX_SAFE_INTEGER;
    const rows =
      range.after === undefined
        ? this.sql
            .exec<MessageRow>(`SELECT * FROM messages WHERE seq > ? AND seq < ? ORDER BY seq DESC LIMIT ?`, after, before, range.limit)
            .toArray()
            .reverse()
        : this.sql
            .exec<MessageRow>(`SELECT * FROM messages WHERE seq > ? AND seq < ? ORDER BY seq ASC LIMIT ?`, after, before, range.limit)
            .toArray();
    return rows.map((r) => messageFromRow(room.conversationId, r));
  }

  /** Move a read cursor forward; returns the new cursor when it moved. */
  markRead(userId: string, seq: number): number | undefined {
    const member = this.member(userId);
    const room = this.requireRoom();
    if (!member) return undefined;
    const next = advanceReadCursor(member.readSeq, seq, room.lastSeq);
    if (next === member.readSeq) return undefined;
    const version = this.bump();
    const ordinal = this.sql.exec<{ o: number | null }>(`SELECT max(ordinal) AS o FROM messages WHERE seq <= ?`, next).one().o ?? member.readOrdinal;
    this.sql.exec(`UPDATE members SET read_seq = ?, read_ordinal = ?, version = ? WHERE user_id = ?`, next, ordinal, version, userId);
    member.readSeq = next;
    member.readOrdinal = Math.max(member.readOrdinal, ordinal);
    return next;
  }

  setMuted(userId: string, muted: boolean): void {
    const member = this.member(userId);
    if (!member || member.muted === muted) return;
    const version = this.bump();
    this.sql.exec(`UPDATE members SET muted = ?, version = ? WHERE user_id = ?`, muted ? 1 : 0, version, userId);
    member.muted = muted;
  }

  /** Add (or re-add) members with role "member"; returns the ids that were not already active. */
  addMembers(userIds: readonly string[], now: number): string[] {
    const added = userIds.filter((id) => !this.member(id));
    if (added.length === 0) return [];
    const version = this.bump();
    for (const id of added) {
      this.sql.exec(
        `INSERT INTO members (user_id, role, active, joined_at, version, read_seq, read_ordinal) VALUES (?, 'member', 1, ?, ?, ?, ?)
         ON CONFLICT (user_id) DO UPDATE SET role = 'member', active = 1, joined_at = excluded.joined_at, muted = 0,
           version = excluded.version, read_seq = max(members.read_seq, excluded.read_seq), read_ordinal = max(members.read_ordinal, excluded.read_ordinal)`,
        id,
        now,
        version,
        this.requireRoom().lastSeq,
        this.requireRoom().countableTotal,
      );
    }
    this.members = undefined;
    return added;
  }

  removeMember(userId: string): void {
    const version = this.bump();
    this.sql.exec(`UPDATE members SET active = 0, version = ? WHERE user_id = ?`, version, userId);
    this.members = undefined;
  }

  setRole(userId: string, role: Role): void {
    const version = this.bump();
    this.sql.exec(`UPDATE members SET role = ?, version = ? WHERE user_id = ?`, role, version, userId);
    const member = this.member(userId);
    if (member) member.role = role;
  }

  /**
   * Replace a stored message's body (an edit, or a recall that empties it), bumping its version so
   * the history mirror copies it again. Returns the revised message, or undefined for an unknown seq.
   */
  reviseMessage(seq: number, change: { body: JsonObject; editedAt?: number; recalled?: boolean }): Message | undefined {
    const room = this.requireRoom();
    const row = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE seq = ?`, seq).toArray()[0];
    if (!row) return undefined;
    const version = row.version + 1;
    this.sql.exec(
      `UPDATE messages SET body = ?, edited_at = coalesce(?, edited_at), recalled = max(recalled, ?), version = ? WHERE seq = ?`,
      JSON.stringify(change.body),
      change.editedAt ?? null,
      change.recalled ? 1 : 0,
      version,
      seq,
    );
    this.sql.exec(
      `INSERT INTO history_revised (seq, version) VALUES (?, ?) ON CONFLICT (seq) DO UPDATE SET version = excluded.version`,
      seq,
      version,
    );
    this.bump();
    const updated = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE seq = ?`, seq).one();
    return messageFromRow(room.conversationId, updated);
  }

  /**
   * Delete messages older than `cutoff` (retention) and everything of them: earlier bodies, reactions,
   * hidden markers, attachment rows (their bytes through the outbox), and the bodies that later
   * `message_edited` events carry. `seq` keeps counting from where it was; the idempotency keys of
   * deleted messages go with them. Returns how many messages were deleted.
   */
  purgeBefore(cutoff: number, now: number): number {
    this.requireRoom();
    const expired = `SELECT seq FROM messages WHERE ts < ?`;
    const files = this.sql.exec<{ id: string }>(`SELECT id FROM attachments WHERE sent_seq IN (${expired})`, cutoff).toArray();
    for (const f of files) this.discardAttachment(f.id, now);
    this.sql.exec(`DELETE FROM message_edits WHERE seq IN (${expired})`, cutoff);
    this.sql.exec(`DELETE FROM reactions WHERE seq IN (${expired})`, cutoff);
    this.sql.exec(`DELETE FROM hidden WHERE seq IN (${expired})`, cutoff);
    const events = this.sql
      .exec<MessageRow>(
        `SELECT * FROM messages WHERE ts >= ? AND kind = 'system' AND body ->> '$.event' = 'message_edited'
           AND body ->> '$.target' IN (${expired}) AND body ->> '$.body' IS NOT NULL`,
        cutoff,
        cutoff,
      )
      .toArray();
    for (const e of events) {
      const { body: _body, ...rest } = JSON.parse(e.body) as JsonObject;
      this.reviseMessage(e.seq, { body: { ...rest, redacted: true } });
    }
    const deleted = this.sql.exec(`DELETE FROM messages WHERE ts < ?`, cutoff).rowsWritten;
    this.sql.exec(`DELETE FROM history_revised WHERE seq NOT IN (SELECT seq FROM messages)`);
    if (deleted > 0) this.bump();
    return deleted;
  }

  /** What the outbox must copy to D1, or null when the mirror is current. */
  mirrorSnapshot(): MirrorSnapshot | null {
    const room = this.requireRoom();
    if (room.mirroredVersion >= room.version && room.mirroredSeq >= room.lastSeq) return null;
    const history: HistoryRow[] = [];
    let bytes = 0;
    const revised = this.sql
      .exec<MessageRow>(
        `SELECT m.* FROM history_revised h JOIN messages m ON m.seq = h.seq WHERE h.seq <= ? ORDER BY h.seq LIMIT ?`,
        room.mirroredSeq,
        MIRROR_MESSAGES_MAX,
      )
      .toArray();
    const fresh = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE seq > ? ORDER BY seq LIMIT ?`, room.mirroredSeq, MIRROR_MESSAGES_MAX);
    for (const r of [...revised, ...fresh]) {
      const body = JSON.parse(r.body) as JsonObject;
      const text = r.recalled === 1 ? "" : searchableText(r.kind, body);
      const row: HistoryRow = {
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
      // Bound the flush by the UTF-8 size of what is sent (CJK text is 3 bytes a character, and the
      // row carries the body, the text and the grams): D1 caps a bound value at 2,000,000 bytes.
      const size = utf8Length(JSON.stringify(row));
      if (history.length > 0 && bytes + size > MIRROR_MESSAGE_BYTES) break;
      bytes += size;
      history.push(row);
    }
    const changed = this.sql
      .exec<MemberRow>(`SELECT * FROM members WHERE version > mirrored_version`)
      .toArray();
    const last = this.lastCountable();
    return {
      tenantId: room.tenantId,
      conversationId: room.conversationId,
      type: room.type,
      name: room.name,
      createdAt: room.createdAt,
      lastSeq: room.lastSeq,
      activityAt: room.lastTs ?? room.createdAt,
      lastMessage: last ? JSON.stringify({ ...last, preview: previewOf(last.kind, last.body) }) : null,
      version: room.version,
      messageCount: room.countableTotal,
      upserts: changed
        .filter((r) => r.active === 1)
        .map((r) => ({
          userId: r.user_id,
          role: r.role,
          readSeq: r.read_seq,
          readCount: r.read_ordinal,
          muted: r.muted === 1,
          joinedAt: r.joined_at,
          version: r.version,
        })),
      removals: changed.filter((r) => r.active === 0).map((r) => ({ userId: r.user_id, version: r.version })),
      history,
      historyThrough: Math.max(room.mirroredSeq, ...history.filter((h) => h.seq > room.mirroredSeq).map((h) => h.seq)),
      revised: revised.map((r) => ({ seq: r.seq, version: r.version })),
    };
  }

  /** Record that D1 holds everything up to `version` and the log up to `seq`. Later changes stay pending. */
  markMirrored(version: number, seq: number, revised: readonly { seq: number; version: number }[] = []): void {
    const room = this.requireRoom();
    for (const r of revised) this.sql.exec(`DELETE FROM history_revised WHERE seq = ? AND version <= ?`, r.seq, r.version);
    this.sql.exec(`UPDATE members SET mirrored_version = version WHERE version > mirrored_version AND version <= ?`, version);
    this.sql.exec(
      `UPDATE room SET mirrored_version = max(mirrored_version, ?), mirrored_seq = max(mirrored_seq, ?), mirror_attempts = 0 WHERE id = 1`,
      version,
      seq,
    );
    room.mirroredVersion = Math.max(room.mirroredVersion, version);
    room.mirroredSeq = Math.max(room.mirroredSeq, seq);
    room.mirrorAttempts = 0;
  }

  /** Count a failed flush; returns the number of consecutive failures (kept durably, so backoff survives eviction). */
  mirrorFailed(): number {
    const room = this.requireRoom();
    room.mirrorAttempts += 1;
    this.sql.exec(`UPDATE room SET mirror_attempts = ? WHERE id = 1`, room.mirrorAttempts);
    return room.mirrorAttempts;
  }

  /**
   * Record that presence accepted notifications up to `seq`. Kept in memory and written by
   * `persistNotified` (on the alarm's run): after a crash in between, the hand-over is repeated and
   * presence, which keeps its own watermark, ignores what it already handled.
   */
  markNotified(seq: number): void {
    const room = this.requireRoom();
    if (seq > room.notifiedSeq) room.notifiedSeq = seq;
  }

  persistNotified(): void {
    const room = this.getRoom();
    if (!room || room.notifiedSeq <= this.persistedNotifiedSeq) return;
    this.sql.exec(`UPDATE room SET notified_seq = max(notified_seq, ?) WHERE id = 1`, room.notifiedSeq);
    this.persistedNotifiedSeq = room.notifiedSeq;
  }

  private persistedNotifiedSeq = 0;

  /** True while the notify watermark in memory is ahead of the stored one. */
  notifiedDirty(): boolean {
    const room = this.getRoom();
    return !!room && room.notifiedSeq > this.persistedNotifiedSeq;
  }

}

function roomFromRow(r: RoomRow): Room {
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

function memberFromRow(r: MemberRow): MemberState {
  return { userId: r.user_id, role: r.role, joinedAt: r.joined_at, readSeq: r.read_seq, readOrdinal: r.read_ordinal, muted: r.muted === 1 };
}

function messageFromRow(conversationId: string, r: MessageRow): Message {
  const message: Message = {
    conversationId,
    seq: r.seq,
    clientId: r.client_id,
    sender: r.sender,
    kind: r.kind,
    body: JSON.parse(r.body) as JsonObject,
    ts: r.ts,
  };
  if (r.reply_to !== null) message.replyTo = r.reply_to;
  if (r.edited_at !== null) message.editedAt = r.edited_at;
  if (r.recalled === 1) message.recalled = true;
  return message;
}
