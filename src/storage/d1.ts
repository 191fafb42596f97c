import { getTableColumns, sql, type SQL } from "drizzle-orm";
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
 * A column given in neither is NULL (an autoincrement id is then assigned).
 */
export function jsonRows<T extends SQLiteTable>(table: T, rows: readonly object[], fixed: { [K in keyof T["_"]["columns"]]?: unknown } = {}) {
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
  return new QueryBuilder().select(fields).from(sql`json_each(${JSON.stringify(rows)})`).where(sql`true`);
}

/** A drizzle query that can be sent alone or in a batch. */
export type D1Query = BatchItem<"sqlite"> & { toSQL(): { sql: string; params: unknown[] } };

/**
 * A drizzle query as a D1 statement, for a batch that also carries statements built elsewhere (the
 * mirror flush adds its meter's). Check the rows of its result before use: D1 returns them as the driver gives them.
 */
export function statementOf(db: D1Database, query: D1Query): D1PreparedStatement {
  const built = query.toSQL();
  return db.prepare(built.sql).bind(...built.params);
}
