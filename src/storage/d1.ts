import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import { fillPlaceholders, getTableColumns, Placeholder, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { QueryBuilder, type SQLiteColumn, type SQLiteTable } from "drizzle-orm/sqlite-core";

/**
 * Pieces of D1 queries the stores share. D1 binds at most 100 parameters per statement, so a list of
 * ids or rows of any length travels as one JSON parameter and SQLite's `json_each` unpacks it.
 */

/** `column IN (…ids)`, the ids as one parameter. */
export function inJson(column: SQLiteColumn | SQL, values: readonly unknown[]): SQL {
  return sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;
}

/** The value a conflicting insert proposed for `column`, in an upsert's `set`. */
export function excluded(column: SQLiteColumn): SQL {
  return sql.raw(`excluded."${column.name}"`);
}

/**
 * The select of an `INSERT … SELECT` that inserts `rows` (one JSON parameter) into `table`: each column
 * is read from the row's property of the same name, or given in `fixed` (the same for every row).
 * A column given in neither is NULL (an autoincrement id is then assigned). `rows` may be a placeholder
 * (the rows' JSON text is then bound per use, see `compiled`).
 */
export function jsonRows<T extends SQLiteTable>(table: T, rows: readonly object[] | Placeholder, fixed: { [K in keyof T["_"]["columns"]]?: unknown } = {}) {
  const given = new Map<string, unknown>(Object.entries(fixed));
  // Object.fromEntries types its result by string keys alone; the keys are exactly the table's columns.
  const fields = Object.fromEntries(
    Object.entries(getTableColumns(table)).map(([key, column]) => {
      // Property names are our own identifiers (never input), so they are spelled into the path.
      const value = given.has(key) ? sql`${given.get(key)}` : sql.raw(`value ->> '$.${key}'`);
      return [key, value.as(column.name)];
    }),
  ) as { [K in keyof T["_"]["columns"]]: SQL.Aliased };
  // `WHERE true` keeps SQLite from reading a following ON CONFLICT as the join constraint of json_each.
  return new QueryBuilder().select(fields).from(sql`json_each(${rows instanceof Placeholder ? rows : JSON.stringify(rows)})`).where(sql`true`);
}

/** A drizzle query that can be sent alone or in a batch. */
export type D1Query = BatchItem<"sqlite"> & { toSQL(): { sql: string; params: unknown[] } };

/**
 * A drizzle query built once and bound per use: what varies is written as `sql.placeholder(name)`, and
 * each call binds `values` to the same SQL text. Building a query walks drizzle's tree of SQL chunks;
 * on the mirror flush's path (several statements per conversation per second) that walk cost more
 * than sending the batch, so those statements are built once per isolate.
 */
export function compiled<V extends Record<string, unknown>>(build: (orm: DrizzleD1Database) => D1Query): (db: D1Database, values: V) => D1PreparedStatement {
  let text: { sql: string; params: unknown[] } | undefined;
  return (db, values) => {
    text ??= build(drizzle(db)).toSQL();
    return db.prepare(text.sql).bind(...fillPlaceholders(text.params, values));
  };
}
