import type { Role } from "../domain/membership";
import type { MemberState, MemberStore } from "../domain/store";
import type { RoomHeader } from "./room-header";
import { memberFromRow, type MemberRow } from "./room-schema";

/**
 * The members table: roles, mute flags and (with room-readers.ts) read cursors. Active members are
 * cached. A sender's cursor moved by an append is in the cache at once and in its row with the next
 * write of the room row (room-header.ts keeps the pending cursors and writes them).
 */
export class MemberTable implements MemberStore {
  private cached: Map<string, MemberState> | undefined;

  constructor(
    private readonly sql: SqlStorage,
    private readonly header: RoomHeader,
  ) {}

  /** Active members by user id. Cached until the object hibernates. */
  active(): Map<string, MemberState> {
    if (!this.cached) {
      const pending = this.header.pendingCursors();
      const rows = this.sql.exec<MemberRow>(`SELECT * FROM members WHERE active = 1`).toArray();
      this.cached = new Map(rows.map((r) => [r.user_id, memberFromRow(r)]));
      for (const [userId, cursor] of pending) {
        const member = this.cached.get(userId);
        if (member && member.readSeq < cursor.readSeq) {
          member.readSeq = cursor.readSeq;
          member.readOrdinal = cursor.readOrdinal;
        }
      }
    }
    return this.cached;
  }

  member(userId: string): MemberState | undefined {
    return this.active().get(userId);
  }

  /** Forget the cache (after rows were written elsewhere, e.g. at creation). */
  forget(): void {
    this.cached = undefined;
  }

  /** Add (or re-add) members with role "member", read up to the log's end; returns the ids that were not already active. */
  add(userIds: readonly string[], now: number): string[] {
    const added = userIds.filter((id) => !this.member(id));
    if (added.length === 0) return [];
    const version = this.header.bump();
    const room = this.header.require();
    for (const id of added) {
      this.sql.exec(
        `INSERT INTO members (user_id, role, active, joined_at, version, read_seq, read_ordinal) VALUES (?, 'member', 1, ?, ?, ?, ?)
         ON CONFLICT (user_id) DO UPDATE SET role = 'member', active = 1, joined_at = excluded.joined_at, muted = 0,
           version = excluded.version, read_seq = max(members.read_seq, excluded.read_seq), read_ordinal = max(members.read_ordinal, excluded.read_ordinal)`,
        id,
        now,
        version,
        room.lastSeq,
        room.countableTotal,
      );
    }
    this.cached = undefined;
    return added;
  }

  remove(userId: string): void {
    const version = this.header.bump();
    this.sql.exec(`UPDATE members SET active = 0, version = ? WHERE user_id = ?`, version, userId);
    this.cached = undefined;
  }

  setRole(userId: string, role: Role): void {
    const version = this.header.bump();
    this.sql.exec(`UPDATE members SET role = ?, version = ? WHERE user_id = ?`, role, version, userId);
    const member = this.member(userId);
    if (member) member.role = role;
  }

  setMuted(userId: string, muted: boolean): void {
    const member = this.member(userId);
    if (!member || member.muted === muted) return;
    const version = this.header.bump();
    this.sql.exec(`UPDATE members SET muted = ?, version = ? WHERE user_id = ?`, muted ? 1 : 0, version, userId);
    member.muted = muted;
  }
}
