/**
 * Ordered, idempotent schema migrations for a Durable Object's SQLite storage, run at construction.
 * DO SQLite forbids `PRAGMA user_version`, so applied versions live in a table of their own.
 */
export interface SqlMigration {
  version: number;
  name: string;
  sql: string;
}

export function applySqlMigrations(storage: DurableObjectStorage, migrations: readonly SqlMigration[]): number {
  const sql = storage.sql;
  sql.exec(`CREATE TABLE IF NOT EXISTS _schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const row = sql.exec<{ v: number | null }>(`SELECT max(version) AS v FROM _schema_migrations`).one();
  const current = row.v ?? 0;
  let applied = 0;
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (migration.version <= current) continue;
    storage.transactionSync(() => {
      sql.exec(migration.sql);
      sql.exec(`INSERT INTO _schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, migration.version, migration.name, Date.now());
    });
    applied++;
  }
  return applied;
}
