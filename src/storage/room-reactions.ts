import type { ReactionStore } from "../domain/store";

/** Reactions: one row per (message, emoji, person). */
export class ReactionTable implements ReactionStore {
  constructor(private readonly sql: SqlStorage) {}

  set(seq: number, userId: string, emoji: string, add: boolean, now: number): boolean {
    const changed = add
      ? this.sql.exec(`INSERT INTO reactions (seq, user_id, emoji, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, seq, userId, emoji, now).rowsWritten
      : this.sql.exec(`DELETE FROM reactions WHERE seq = ? AND user_id = ? AND emoji = ?`, seq, userId, emoji).rowsWritten;
    return changed > 0;
  }

  countOf(seq: number, userId: string): number {
    return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM reactions WHERE seq = ? AND user_id = ?`, seq, userId).one().n;
  }

  between(from: number, to: number): Map<number, Record<string, string[]>> {
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
}
