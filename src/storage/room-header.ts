import type { NewRoom, RoomHeaderStore } from "../domain/store";
import { MIGRATIONS, roomFromRow, type RoomRecord, type RoomRow } from "./room-schema";
import { applySqlMigrations } from "./sql-migrations";

/** A read cursor moved in memory and not yet written to its member row. */
export interface PendingCursor {
  readSeq: number;
  readOrdinal: number;
  /** The room version of the change that moved it (the member row's `version`, which the mirror reads). */
  version: number;
}

/**
 * The room row of a conversation object's SQLite: the header, the change counter that tells the D1
 * mirror what to copy, and the watermarks of the side effects that follow the log. Cached in memory
 * until the object hibernates; every write goes through here.
 * The tenant and conversation ids stay in the row although the object's name (`ctx.id.name`) says
 * them too: the row is the header anyway (type, name, creator), and an object whose name nobody
 * created a conversation under must answer "not found", which only the row can tell.
 *
 * The head (`version`, `last_seq`, `last_ts`, `countable_total`) is not written by an append: the
 * append writes its message row only, and moves the head and the sender's read cursor in memory.
 * Every statement that writes the room row writes the whole head with it, and the read cursors that
 * appends moved since the last such write (`cursors`), in the same synchronous turn. So the stored row
 * is always the head at some point of the log, every change after that point is an append (every
 * other change of the version writes the row: {@link bump}), and on load the head is recovered from
 * the messages after the stored `last_seq` ({@link recover}).
 */
export class RoomHeader implements RoomHeaderStore {
  private readonly sql: SqlStorage;
  private room: RoomRecord | null | undefined;
  private schemaReady: boolean | undefined;
  private persistedNotifiedSeq = 0;
  /** True while the head in memory is ahead of the stored row. */
  private headDirty = false;
  /** Read cursors moved by appends since the room row was last written, by user id. */
  private readonly cursors = new Map<string, PendingCursor>();

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
  }

  /**
   * Bring the schema up to date, but only in an object that holds a conversation: an id nobody
   * created must store nothing (a read of the empty catalog writes no file). Call once, at construction.
   */
  migrateIfCreated(): void {
    if (this.hasSchema()) applySqlMigrations(this.storage, MIGRATIONS);
  }

  private hasSchema(): boolean {
    this.schemaReady ??= this.sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'room'`).toArray().length > 0;
    return this.schemaReady;
  }

  /** The room, or null before the conversation was created. */
  get(): RoomRecord | null {
    if (this.room === undefined) {
      if (!this.hasSchema()) return null;
      const row = this.sql.exec<RoomRow>(`SELECT * FROM room WHERE id = 1`).toArray()[0];
      this.room = row ? roomFromRow(row) : null;
      this.persistedNotifiedSeq = row?.notified_seq ?? 0;
      if (this.room) this.recover(this.room);
    }
    return this.room;
  }

  /**
   * Bring a room just read from its row up to the log: the messages after the stored `last_seq` are
   * appends whose head was kept in memory only. Each one moved `seq` and `version` by exactly 1, set
   * `countable_total` to its ordinal, `last_ts` to its time when it is countable, and its sender's read
   * cursor to itself (member version: that append's version). The cursors go to `cursors`, to be
   * written with the next write of the room row, and are applied to the member cache when it loads
   * ({@link pendingCursors}); they only ever raise a cursor, and only of an active member.
   */
  private recover(room: RoomRecord): void {
    const tail = this.sql
      .exec<{ seq: number; sender: string; kind: string; ts: number; ordinal: number }>(
        `SELECT seq, sender, kind, ts, ordinal FROM messages WHERE seq > ? ORDER BY seq`,
        room.lastSeq,
      )
      .toArray();
    if (tail.length === 0) return;
    const stored = { seq: room.lastSeq, version: room.version };
    for (const m of tail) {
      const version = stored.version + (m.seq - stored.seq);
      room.lastSeq = m.seq;
      room.version = version;
      room.countableTotal = m.ordinal;
      if (m.kind !== "system") room.lastTs = m.ts;
      this.cursors.set(m.sender, { readSeq: m.seq, readOrdinal: m.ordinal, version });
    }
    if (room.lastSeq - stored.seq !== tail.length) {
      console.error(`room head recovery: ${tail.length} messages after the stored seq ${stored.seq}, up to ${room.lastSeq}: the log has a gap`);
    }
    this.headDirty = true;
  }

  require(): RoomRecord {
    const room = this.get();
    if (!room) throw new Error("conversation object used before it was created");
    return room;
  }

  /** Create the room and its first members (the caller forgets its cache of members). */
  create(init: NewRoom): void {
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
    this.headDirty = false;
    this.cursors.clear();
  }

  /**
   * An append stored as `seq` (the row only): move the head in memory, and the sender's cursor when
   * `sender` is given (an active member's cursor, already moved in the member cache).
   */
  appended(seq: number, ts: number, ordinal: number, countable: boolean, sender: string | undefined): void {
    const room = this.require();
    const version = room.version + 1;
    room.version = version;
    room.lastSeq = seq;
    room.countableTotal = ordinal;
    if (countable) room.lastTs = ts;
    this.headDirty = true;
    if (sender !== undefined) this.cursors.set(sender, { readSeq: seq, readOrdinal: ordinal, version });
  }

  /** Read cursors moved in memory and not yet written (the member cache applies them when it loads). */
  pendingCursors(): ReadonlyMap<string, PendingCursor> {
    this.get();
    return this.cursors;
  }

  /** True while the stored row or member rows trail memory. */
  private dirty(): boolean {
    return this.headDirty || this.cursors.size > 0;
  }

  /**
   * Write the room row: the whole head, the given columns (`set`, with `values` bound after the
   * head's), and the read cursors appends moved. Every write of the row goes through here.
   */
  private write(set: string, ...values: SqlStorageValue[]): void {
    const room = this.require();
    this.sql.exec(
      `UPDATE room SET version = ?, last_seq = ?, last_ts = ?, countable_total = ?${set ? `, ${set}` : ""} WHERE id = 1`,
      room.version,
      room.lastSeq,
      room.lastTs,
      room.countableTotal,
      ...values,
    );
    this.headDirty = false;
    for (const [userId, c] of this.cursors) {
      // Raise only, and only an active member's: a recovered cursor may already be stored, or its sender gone.
      this.sql.exec(
        `UPDATE members SET read_seq = ?, read_ordinal = ?, version = max(version, ?) WHERE user_id = ? AND active = 1 AND read_seq < ?`,
        c.readSeq,
        c.readOrdinal,
        c.version,
        userId,
        c.readSeq,
      );
    }
    this.cursors.clear();
  }

  /** Write the head and the moved cursors if memory is ahead of them (before reading member rows from SQL). */
  persist(): void {
    if (this.room && this.dirty()) this.write("");
  }

  /** Bump the change counter that tells the outbox what to mirror; returns the new version. */
  bump(): number {
    const room = this.require();
    room.version += 1;
    this.write("");
    return room.version;
  }

  /** Entries of the log not yet copied to D1 (system events included: an upper bound of messages). */
  unmirroredCount(): number {
    const room = this.get();
    return room ? room.lastSeq - room.mirroredSeq : 0;
  }

  /** Record that D1 holds the header up to `version` and the log up to `seq`. */
  markMirrored(version: number, seq: number): void {
    const room = this.require();
    this.write(`mirrored_version = max(mirrored_version, ?), mirrored_seq = max(mirrored_seq, ?), mirror_attempts = 0`, version, seq);
    room.mirroredVersion = Math.max(room.mirroredVersion, version);
    room.mirroredSeq = Math.max(room.mirroredSeq, seq);
    room.mirrorAttempts = 0;
  }

  /** Count a failed flush; returns the number of consecutive failures (kept durably, so backoff survives eviction). */
  mirrorFailed(): number {
    const room = this.require();
    room.mirrorAttempts += 1;
    this.write(`mirror_attempts = ?`, room.mirrorAttempts);
    return room.mirrorAttempts;
  }

  /**
   * Record that presence accepted notifications up to `seq`. Kept in memory and written by
   * `persistNotified` (on the alarm's run): after a crash in between, the hand-over is repeated and
   * presence, which keeps its own watermark, ignores what it already handled.
   */
  markNotified(seq: number): void {
    const room = this.require();
    if (seq > room.notifiedSeq) room.notifiedSeq = seq;
  }

  persistNotified(): void {
    const room = this.get();
    if (!room || room.notifiedSeq <= this.persistedNotifiedSeq) return;
    this.write(`notified_seq = max(notified_seq, ?)`, room.notifiedSeq);
    this.persistedNotifiedSeq = room.notifiedSeq;
  }

  /** True while the notify watermark in memory is ahead of the stored one. */
  notifiedDirty(): boolean {
    const room = this.get();
    return !!room && room.notifiedSeq > this.persistedNotifiedSeq;
  }

  /** Record that message.created events up to `seq` are with the queue. */
  markOutboundSeq(seq: number): void {
    const room = this.require();
    if (seq <= room.outboundSeq) return;
    this.write(`outbound_seq = ?`, seq);
    room.outboundSeq = seq;
  }
}
