import { advanceReadCursor } from "../domain/membership";
import type { MemberState, ReaderStore } from "../domain/store";
import type { RoomHeader } from "./room-header";
import type { MemberTable } from "./room-members";

/** What each reader has read (the cursor columns of `members`) and hidden for themselves (`hidden`). */
export class ReaderTable implements ReaderStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly header: RoomHeader,
    private readonly members: MemberTable,
  ) {}

  markRead(userId: string, seq: number): number | undefined {
    const member = this.members.member(userId);
    const room = this.header.require();
    if (!member) return undefined;
    const next = advanceReadCursor(member.readSeq, seq, room.lastSeq);
    if (next === member.readSeq) return undefined;
    const version = this.header.bump();
    const ordinal = this.sql.exec<{ o: number | null }>(`SELECT max(ordinal) AS o FROM messages WHERE seq <= ?`, next).one().o ?? member.readOrdinal;
    this.sql.exec(`UPDATE members SET read_seq = ?, read_ordinal = ?, version = ? WHERE user_id = ?`, next, ordinal, version, userId);
    member.readSeq = next;
    member.readOrdinal = Math.max(member.readOrdinal, ordinal);
    return next;
  }

  unreadOf(member: MemberState): number {
    return Math.max(0, this.header.require().countableTotal - member.readOrdinal);
  }

  hide(userId: string, seq: number): boolean {
    return this.sql.exec(`INSERT INTO hidden (user_id, seq) VALUES (?, ?) ON CONFLICT DO NOTHING`, userId, seq).rowsWritten > 0;
  }

  hiddenBetween(userId: string, from: number, to: number): Set<number> {
    return new Set(
      this.sql.exec<{ seq: number }>(`SELECT seq FROM hidden WHERE user_id = ? AND seq BETWEEN ? AND ?`, userId, from, to).toArray().map((r) => r.seq),
    );
  }
}
