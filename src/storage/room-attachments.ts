import type { AttachmentRecord } from "../domain/model";
import type { AttachmentStore } from "../domain/store";
import type { EffectOutbox } from "./room-effects";

interface AttachmentRow {
  id: string;
  uploader: string;
  name: string;
  size: number;
  content_type: string;
  width: number | null;
  height: number | null;
  created_at: number;
  sent_seq: number | null;
  [key: string]: SqlStorageValue;
}

/** Uploads to the conversation (`attachments`); their bytes live in R2 and are deleted through the effects outbox. */
export class AttachmentTable implements AttachmentStore {
  /** Cached answer of `oldestUnsent` (null: none), forgotten by every change to uploads. */
  private oldestUnsentAt: number | null | undefined;

  constructor(
    private readonly sql: SqlStorage,
    private readonly effects: EffectOutbox,
  ) {}

  register(a: AttachmentRecord): void {
    this.oldestUnsentAt = undefined;
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

  get(id: string): AttachmentRecord | undefined {
    const r = this.sql.exec<AttachmentRow>(`SELECT * FROM attachments WHERE id = ?`, id).toArray()[0];
    if (!r) return undefined;
    const record: AttachmentRecord = { id: r.id, uploader: r.uploader, name: r.name, size: r.size, contentType: r.content_type, createdAt: r.created_at, sentSeq: r.sent_seq };
    if (r.width !== null) record.width = r.width;
    if (r.height !== null) record.height = r.height;
    return record;
  }

  markSent(id: string, seq: number): void {
    this.oldestUnsentAt = undefined;
    this.sql.exec(`UPDATE attachments SET sent_seq = coalesce(sent_seq, ?) WHERE id = ?`, seq, id);
  }

  discard(id: string, now: number): void {
    this.oldestUnsentAt = undefined;
    const size = this.sql.exec<{ size: number }>(`SELECT size FROM attachments WHERE id = ?`, id).toArray()[0]?.size;
    this.sql.exec(`DELETE FROM attachments WHERE id = ?`, id);
    this.effects.add(`file:${id}`, { kind: "file.delete", attachmentId: id, ...(size !== undefined ? { size } : {}) }, now);
  }

  /** Uploads never sent, created before `cutoff`. */
  orphans(cutoff: number, limit = 100): string[] {
    return this.sql
      .exec<{ id: string }>(`SELECT id FROM attachments WHERE sent_seq IS NULL AND created_at < ? ORDER BY created_at LIMIT ?`, cutoff, limit)
      .toArray()
      .map((r) => r.id);
  }

  /** Uploads sent by messages older than `cutoff` (retention). */
  sentBefore(cutoff: number): string[] {
    return this.sql
      .exec<{ id: string }>(`SELECT id FROM attachments WHERE sent_seq IN (SELECT seq FROM messages WHERE ts < ?)`, cutoff)
      .toArray()
      .map((r) => r.id);
  }

  /** When the oldest unsent upload was made, if any. */
  oldestUnsent(): number | undefined {
    if (this.oldestUnsentAt === undefined) {
      this.oldestUnsentAt = this.sql.exec<{ t: number | null }>(`SELECT min(created_at) AS t FROM attachments WHERE sent_seq IS NULL`).one().t;
    }
    return this.oldestUnsentAt ?? undefined;
  }
}
