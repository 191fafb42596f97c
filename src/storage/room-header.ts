import type { NewRoom, RoomHeaderStore } from "../domain/store";
import { MIGRATIONS, roomFromRow, type RoomRecord, type RoomRow } from "./room-schema";
import { applySqlMigrations } from "./sql-migrations";

/**
 * The room row of a conversation object's SQLite: the header, the change counter that tells the D1
 * mirror what to copy, and the watermarks of the side effects that follow the log. Cached in memory
 * until the object hibernates; every write goes through here, so the cache is the row.
 * The tenant and conversation ids stay in the row although the object's name (`ctx.id.name`) says
 * them too: the row is the header anyway (type, name, creator), and an object whose name nobody
 * created a conversation under must answer "not found", which only the row can tell.
 */
export class RoomHeader implements RoomHeaderStore {
  private readonly sql: SqlStorage;
  private room: RoomRecord | null | undefined;
  private schemaReady: boolean | undefined;
  private persistedNotifiedSeq = 0;

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
    }
    return this.room;
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
  }

  /** Bump the change counter that tells the outbox what to mirror; returns the new version. */
  bump(): number {
    const room = this.require();
    room.version += 1;
    this.sql.exec(`UPDATE room SET version = ? WHERE id = 1`, room.version);
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
    const room = this.require();
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
    const room = this.require();
    if (seq > room.notifiedSeq) room.notifiedSeq = seq;
  }

  persistNotified(): void {
    const room = this.get();
    if (!room || room.notifiedSeq <= this.persistedNotifiedSeq) return;
    this.sql.exec(`UPDATE room SET notified_seq = max(notified_seq, ?) WHERE id = 1`, room.notifiedSeq);
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
    this.sql.exec(`UPDATE room SET outbound_seq = ? WHERE id = 1`, seq);
    room.outboundSeq = seq;
  }
}
