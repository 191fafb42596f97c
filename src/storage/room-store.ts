import type { ConversationStore, NewRoom, RoomHeaderStore } from "../domain/store";
import { AttachmentTable } from "./room-attachments";
import { EditTable } from "./room-edits";
import { EffectOutbox } from "./room-effects";
import { RoomHeader } from "./room-header";
import { MessageTable } from "./room-log";
import { MemberTable } from "./room-members";
import { RoomMirror } from "./room-mirror";
import { ReactionTable } from "./room-reactions";
import { ReaderTable } from "./room-readers";
import { redactedEditEvent } from "../domain/lifecycle";

/**
 * A conversation object's SQLite, one module per aggregate (schema and migrations in room-schema.ts):
 * the header and watermarks, members, read cursors, the log, reactions, edits, attachments, the
 * effects outbox and the D1 mirror's bookkeeping. Every method is synchronous, so each one is a single
 * implicit transaction of the object.
 */
export class RoomStorage implements ConversationStore {
  readonly header: RoomHeader;
  readonly members: MemberTable;
  readonly readers: ReaderTable;
  readonly log: MessageTable;
  readonly reactions: ReactionTable;
  readonly edits: EditTable;
  readonly attachments: AttachmentTable;
  /** Durable side effects (R2 deletes, CRM events), written with the changes that cause them. */
  readonly effects: EffectOutbox;
  /** Outbound CRM events are effects too. */
  readonly outbound: EffectOutbox;
  readonly mirror: RoomMirror;
  readonly room: RoomHeaderStore;
  private readonly sql: SqlStorage;

  constructor(storage: DurableObjectStorage) {
    const sql = storage.sql;
    this.header = new RoomHeader(storage);
    this.members = new MemberTable(sql, this.header);
    this.readers = new ReaderTable(sql, this.header, this.members);
    this.log = new MessageTable(sql, this.header, this.members);
    this.reactions = new ReactionTable(sql);
    this.edits = new EditTable(sql);
    this.effects = new EffectOutbox(sql);
    this.outbound = this.effects;
    this.attachments = new AttachmentTable(sql, this.effects);
    this.mirror = new RoomMirror(sql, this.header, this.log);
    this.room = {
      get: () => this.header.get(),
      create: (init: NewRoom) => {
        this.header.create(init);
        this.members.forget();
      },
    };
    this.sql = sql;
  }

  /**
   * Delete messages older than `cutoff` (retention) and everything of them: earlier bodies, reactions,
   * hidden markers, attachment rows (their bytes through the outbox), and the bodies that later
   * `message_edited` events carry. `seq` keeps counting from where it was; the idempotency keys of
   * deleted messages go with them. Returns how many messages were deleted.
   */
  purgeBefore(cutoff: number, now: number): number {
    this.header.require();
    const expired = `SELECT seq FROM messages WHERE ts < ?`;
    for (const id of this.attachments.sentBefore(cutoff)) this.attachments.discard(id, now);
    this.sql.exec(`DELETE FROM message_edits WHERE seq IN (${expired})`, cutoff);
    this.sql.exec(`DELETE FROM reactions WHERE seq IN (${expired})`, cutoff);
    this.sql.exec(`DELETE FROM hidden WHERE seq IN (${expired})`, cutoff);
    const events = this.sql
      .exec<{ seq: number }>(
        `SELECT seq FROM messages WHERE ts >= ? AND kind = 'system' AND body ->> '$.event' = 'message_edited'
           AND body ->> '$.target' IN (${expired}) AND body ->> '$.body' IS NOT NULL`,
        cutoff,
        cutoff,
      )
      .toArray();
    for (const e of events) {
      const event = this.log.message(e.seq);
      if (event) this.log.revise(e.seq, { body: redactedEditEvent(event.body) });
    }
    const deleted = this.sql.exec(`DELETE FROM messages WHERE ts < ?`, cutoff).rowsWritten;
    this.sql.exec(`DELETE FROM history_revised WHERE seq NOT IN (SELECT seq FROM messages)`);
    if (deleted > 0) this.header.bump();
    return deleted;
  }
}
