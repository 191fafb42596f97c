import { utf8Length } from "../protocol/text";
import { previewOf } from "../domain/kinds";
import type { HistoryRow, MirrorSnapshot } from "./conversations";
import { historyRow, type StoredMessage } from "./search";
import type { RoomHeader } from "./room-header";
import type { MessageTable } from "./room-log";
import type { MemberRow, MessageRow } from "./room-schema";

/**
 * What a conversation copies to D1: its header, member rows, and the history that search indexes.
 * The rows are built here and nowhere else (the search benchmark flushes through `historyBatch` too);
 * the statements that write them are storage/conversations.ts's `mirrorStatements`.
 */

/** Most UTF-8 bytes of history rows in one mirror flush (well under D1's 2 MB per bound value). */
export const MIRROR_MESSAGE_BYTES = 900 * 1024;
/** Most history rows in one mirror flush. */
export const MIRROR_MESSAGES_MAX = 2_000;

/**
 * The history rows of one flush: stored messages in order, as many as fit MIRROR_MESSAGE_BYTES and
 * `max` (at least one, whatever its size). Bounded by the UTF-8 size of what is sent (CJK text is 3
 * bytes a character, and the row carries the body, the text and the grams): D1 caps a bound value
 * at 2,000,000 bytes.
 */
export function historyBatch(messages: Iterable<StoredMessage>, max = MIRROR_MESSAGES_MAX): HistoryRow[] {
  const rows: HistoryRow[] = [];
  let bytes = 0;
  for (const m of messages) {
    if (rows.length >= max) break;
    const row = historyRow(m);
    const size = utf8Length(JSON.stringify(row));
    if (rows.length > 0 && bytes + size > MIRROR_MESSAGE_BYTES) break;
    bytes += size;
    rows.push(row);
  }
  return rows;
}

/** The D1 mirror's bookkeeping in the object's SQLite: what changed since the last flush, and marking it copied. */
export class RoomMirror {
  constructor(
    private readonly sql: SqlStorage,
    private readonly header: RoomHeader,
    private readonly log: MessageTable,
  ) {}

  /** What the outbox must copy to D1, or null when the mirror is current. */
  snapshot(): MirrorSnapshot | null {
    const room = this.header.require();
    if (room.mirroredVersion >= room.version && room.mirroredSeq >= room.lastSeq) return null;
    // Appends move the head and their senders' read cursors in memory: write them first (in this same
    // synchronous turn), so the member rows read below are the ones D1 must get.
    this.header.persist();
    const revised = this.sql
      .exec<MessageRow>(
        `SELECT m.* FROM history_revised h JOIN messages m ON m.seq = h.seq WHERE h.seq <= ? ORDER BY h.seq LIMIT ?`,
        room.mirroredSeq,
        MIRROR_MESSAGES_MAX,
      )
      .toArray();
    const fresh = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE seq > ? ORDER BY seq LIMIT ?`, room.mirroredSeq, MIRROR_MESSAGES_MAX);
    const history = historyBatch([...revised, ...fresh]);
    // Every member write stamps the row with the room's version of that change, so the rows above the
    // mirrored version are the ones D1 has not seen.
    const changed = this.sql.exec<MemberRow>(`SELECT * FROM members WHERE version > ?`, room.mirroredVersion).toArray();
    const last = this.log.lastCountable();
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
        .map((r) => ({ userId: r.user_id, role: r.role, readSeq: r.read_seq, readCount: r.read_ordinal, muted: r.muted === 1, joinedAt: r.joined_at, version: r.version })),
      removals: changed.filter((r) => r.active === 0).map((r) => ({ userId: r.user_id, version: r.version })),
      history,
      historyThrough: Math.max(room.mirroredSeq, ...history.filter((h) => h.seq > room.mirroredSeq).map((h) => h.seq)),
      revised: revised.map((r) => ({ seq: r.seq, version: r.version })),
    };
  }

  /** Record that D1 holds everything up to `version` and the log up to `seq`. Later changes stay pending. */
  markMirrored(version: number, seq: number, revised: readonly { seq: number; version: number }[] = []): void {
    for (const r of revised) this.sql.exec(`DELETE FROM history_revised WHERE seq = ? AND version <= ?`, r.seq, r.version);
    this.header.markMirrored(version, seq);
  }
}
