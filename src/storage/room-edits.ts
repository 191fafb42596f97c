import type { JsonObject } from "../protocol/frames";
import { parseStoredObject } from "../protocol/json";
import type { EditHistory } from "../domain/model";
import type { EditStore } from "../domain/store";

/** Earlier bodies of edited messages (`message_edits`), keyed by the message's version they replaced. */
export class EditTable implements EditStore {
  constructor(private readonly sql: SqlStorage) {}

  record(seq: number, body: JsonObject, editedAt: number): void {
    const version = this.sql.exec<{ version: number }>(`SELECT version FROM messages WHERE seq = ?`, seq).toArray()[0]?.version ?? 1;
    this.sql.exec(`INSERT OR IGNORE INTO message_edits (seq, version, body, edited_at) VALUES (?, ?, ?, ?)`, seq, version, JSON.stringify(body), editedAt);
  }

  of(seq: number): EditHistory["edits"] {
    return this.sql
      .exec<{ version: number; body: string; edited_at: number }>(`SELECT version, body, edited_at FROM message_edits WHERE seq = ? ORDER BY version`, seq)
      .toArray()
      .map((r) => ({ version: r.version, body: parseStoredObject(r.body, `edit ${seq}/${r.version}`), replacedAt: r.edited_at }));
  }

  forget(seq: number): void {
    this.sql.exec(`DELETE FROM message_edits WHERE seq = ?`, seq);
  }
}
