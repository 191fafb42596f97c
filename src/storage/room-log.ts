import type { JsonObject, Message } from "../protocol/frames";
import type { HistoryRange, SendResult } from "../domain/model";
import type { MessageLog, NewMessage } from "../domain/store";
import type { RoomHeader } from "./room-header";
import type { MemberTable } from "./room-members";
import type { MessageRow } from "./room-schema";
import { messageFromRow } from "./message-rows";

/** The ordered log: `messages`, one row per seq, and `history_revised`, the revisions the D1 mirror must copy again. */
export class MessageTable implements MessageLog {
  constructor(
    private readonly sql: SqlStorage,
    private readonly header: RoomHeader,
    private readonly members: MemberTable,
  ) {}

  private fromRow(row: MessageRow): Message {
    return messageFromRow(this.header.require().conversationId, row);
  }

  findByClientId(sender: string, clientId: string): Message | undefined {
    const row = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE sender = ? AND client_id = ?`, sender, clientId).toArray()[0];
    return row ? this.fromRow(row) : undefined;
  }

  append(input: NewMessage): SendResult {
    const room = this.header.require();
    const seq = room.lastSeq + 1;
    // One statement per message, the row: the room's head and the sender's read cursor move in memory
    // and are written with the next write of the room row (room-header.ts recovers them from the log).
    const countable = input.content.kind !== "system";
    const ordinal = room.countableTotal + (countable ? 1 : 0);
    // The unique (sender, client_id) index is the idempotency check: a retry inserts nothing.
    const inserted = this.sql.exec(
      `INSERT INTO messages (seq, client_id, sender, kind, body, ts, reply_to, ordinal) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (sender, client_id) DO NOTHING`,
      seq,
      input.clientId,
      input.sender,
      input.content.kind,
      JSON.stringify(input.content.body),
      input.now,
      input.replyTo ?? null,
      ordinal,
    ).rowsWritten;
    if (inserted === 0) {
      const existing = this.findByClientId(input.sender, input.clientId);
      if (!existing) throw new Error(`message ${input.sender}/${input.clientId} was neither inserted nor found`);
      return { status: "duplicate", message: existing };
    }
    // A sender has read what they sent.
    const sender = this.members.member(input.sender);
    const moves = sender !== undefined && sender.readSeq < seq;
    if (moves) {
      sender.readSeq = seq;
      sender.readOrdinal = ordinal;
    }
    this.header.appended(seq, input.now, ordinal, countable, moves ? input.sender : undefined);
    const message: Message = {
      conversationId: room.conversationId,
      seq,
      clientId: input.clientId,
      sender: input.sender,
      kind: input.content.kind,
      body: input.content.body,
      ts: input.now,
    };
    if (input.replyTo !== undefined) message.replyTo = input.replyTo;
    return { status: "created", message };
  }

  message(seq: number): Message | undefined {
    const row = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE seq = ?`, seq).toArray()[0];
    return row ? this.fromRow(row) : undefined;
  }

  lastCountable(): Message | undefined {
    const row = this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE kind != 'system' ORDER BY seq DESC LIMIT 1`).toArray()[0];
    return row ? this.fromRow(row) : undefined;
  }

  page(range: HistoryRange): Message[] {
    const after = range.after ?? 0;
    const before = range.before ?? Number.MAX_SAFE_INTEGER;
    const rows =
      range.after === undefined
        ? this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE seq > ? AND seq < ? ORDER BY seq DESC LIMIT ?`, after, before, range.limit).toArray().reverse()
        : this.sql.exec<MessageRow>(`SELECT * FROM messages WHERE seq > ? AND seq < ? ORDER BY seq ASC LIMIT ?`, after, before, range.limit).toArray();
    return rows.map((r) => this.fromRow(r));
  }

  /**
   * Replace a stored message's body, bumping its version so the history mirror copies it again.
   * Returns the revised message, or undefined for an unknown seq.
   */
  revise(seq: number, change: { body: JsonObject; editedAt?: number; recalled?: boolean }): Message | undefined {
    const version = this.sql.exec<{ version: number }>(`SELECT version FROM messages WHERE seq = ?`, seq).toArray()[0]?.version;
    if (version === undefined) return undefined;
    this.sql.exec(
      `UPDATE messages SET body = ?, edited_at = coalesce(?, edited_at), recalled = max(recalled, ?), version = ? WHERE seq = ?`,
      JSON.stringify(change.body),
      change.editedAt ?? null,
      change.recalled ? 1 : 0,
      version + 1,
      seq,
    );
    this.sql.exec(`INSERT INTO history_revised (seq, version) VALUES (?, ?) ON CONFLICT (seq) DO UPDATE SET version = excluded.version`, seq, version + 1);
    this.header.bump();
    return this.message(seq);
  }

  editEventsOf(seq: number): Message[] {
    return this.sql
      .exec<MessageRow>(`SELECT * FROM messages WHERE kind = 'system' AND body ->> '$.event' = 'message_edited' AND body ->> '$.target' = ?`, seq)
      .toArray()
      .map((r) => this.fromRow(r));
  }

  firstCard(source: string, objectType: string, objectId: string): number | undefined {
    return this.sql
      .exec<{ seq: number }>(
        `SELECT seq FROM messages WHERE kind = 'crm' AND body ->> '$.source' = ? AND body ->> '$.objectType' = ? AND body ->> '$.objectId' = ?
         ORDER BY seq LIMIT 1`,
        source,
        objectType,
        objectId,
      )
      .toArray()[0]?.seq;
  }
}
