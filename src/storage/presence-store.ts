import { applySqlMigrations, type SqlMigration } from "./sql-migrations";
import type { PushPlatform, PushTarget } from "../push/types";

/**
 * A presence shard's own SQLite: the device registry (push targets), each user's last-seen time and
 * last announced status, and the notify watermark per conversation (so a redelivered batch is ignored).
 */
const MIGRATIONS: SqlMigration[] = [
  {
    version: 1,
    name: "devices, users, notify watermarks",
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE devices (
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        platform TEXT NOT NULL,
        target TEXT,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, device_id)
      );
      CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        last_seen INTEGER,
        announced TEXT NOT NULL DEFAULT 'offline',
        pending INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX users_pending ON users (pending) WHERE pending = 1;
      CREATE TABLE conversation_notify (conversation_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
    `,
  },
];

export interface Device {
  userId: string;
  deviceId: string;
  platform: PushPlatform;
  /** Null for a device that only opens channels and takes no pushes. */
  target: PushTarget | null;
  createdAt: number;
  lastUsedAt: number;
}

interface DeviceRow {
  user_id: string;
  device_id: string;
  platform: PushPlatform;
  target: string | null;
  created_at: number;
  last_used_at: number;
  [key: string]: SqlStorageValue;
}

/** Conversations whose notify watermark a presence object keeps in memory. */
const NOTIFIED_CACHE = 10_000;

export class PresenceStore {
  private readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
  }

  migrate(): void {
    applySqlMigrations(this.storage, MIGRATIONS);
  }

  /** Users with at least one push target: most recipients have none, and then no query is needed. */
  private pushUsers: Set<string> | undefined;
  /** Per-conversation notify watermarks read so far (bounded; a forgotten one is read again). */
  private readonly notified = new Map<string, number>();

  /**
   * The tenant and shard that objects of earlier versions recorded in `meta` on first use, when objects
   * could not see their own name. Objects now take both from their name (`ctx.id.name`); this copy is
   * only read, for an object whose name the runtime does not hand over.
   */
  storedAddress(): { tenantId: string; shard: number } | undefined {
    const rows = this.sql.exec<{ key: string; value: string }>(`SELECT key, value FROM meta WHERE key IN ('tenant', 'shard')`).toArray();
    const tenantId = rows.find((r) => r.key === "tenant")?.value;
    const shard = rows.find((r) => r.key === "shard")?.value;
    return tenantId !== undefined && shard !== undefined ? { tenantId, shard: Number(shard) } : undefined;
  }

  upsertDevice(d: { userId: string; deviceId: string; platform: PushPlatform; target: PushTarget | null; now: number }): Device {
    this.sql.exec(
      `INSERT INTO devices (user_id, device_id, platform, target, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id, device_id) DO UPDATE SET platform = excluded.platform, target = excluded.target, last_used_at = excluded.last_used_at`,
      d.userId,
      d.deviceId,
      d.platform,
      d.target ? JSON.stringify(d.target) : null,
      d.now,
      d.now,
    );
    const device = this.device(d.userId, d.deviceId);
    if (!device) throw new Error("device upsert returned no row");
    this.refreshPushUser(d.userId);
    return device;
  }

  device(userId: string, deviceId: string): Device | undefined {
    const row = this.sql.exec<DeviceRow>(`SELECT * FROM devices WHERE user_id = ? AND device_id = ?`, userId, deviceId).toArray()[0];
    return row ? deviceFromRow(row) : undefined;
  }

  devicesOf(userId: string): Device[] {
    return this.sql.exec<DeviceRow>(`SELECT * FROM devices WHERE user_id = ? ORDER BY device_id`, userId).toArray().map(deviceFromRow);
  }

  /** Push-capable devices of several users at once. */
  pushDevicesOf(userIds: readonly string[]): Device[] {
    const pushUsers = this.loadPushUsers();
    const wanted = userIds.filter((u) => pushUsers.has(u));
    if (wanted.length === 0) return [];
    return this.sql
      .exec<DeviceRow>(
        `SELECT * FROM devices WHERE target IS NOT NULL AND user_id IN (SELECT value FROM json_each(?)) ORDER BY user_id, device_id`,
        JSON.stringify(wanted),
      )
      .toArray()
      .map(deviceFromRow);
  }

  private loadPushUsers(): Set<string> {
    this.pushUsers ??= new Set(
      this.sql.exec<{ user_id: string }>(`SELECT DISTINCT user_id FROM devices WHERE target IS NOT NULL`).toArray().map((r) => r.user_id),
    );
    return this.pushUsers;
  }

  private refreshPushUser(userId: string): void {
    if (!this.pushUsers) return;
    const has = this.sql.exec(`SELECT 1 FROM devices WHERE user_id = ? AND target IS NOT NULL LIMIT 1`, userId).toArray().length > 0;
    if (has) this.pushUsers.add(userId);
    else this.pushUsers.delete(userId);
  }

  deleteDevice(userId: string, deviceId: string): boolean {
    const deleted = this.sql.exec(`DELETE FROM devices WHERE user_id = ? AND device_id = ?`, userId, deviceId).rowsWritten > 0;
    this.refreshPushUser(userId);
    return deleted;
  }

  touchDevice(userId: string, deviceId: string, now: number): void {
    this.sql.exec(`UPDATE devices SET last_used_at = ? WHERE user_id = ? AND device_id = ?`, now, userId, deviceId);
  }

  /** Note that a user's online state may have changed; the alarm announces it if it really did. */
  markSeen(userId: string, now: number, changed: boolean): void {
    this.sql.exec(
      `INSERT INTO users (user_id, last_seen, pending) VALUES (?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET last_seen = excluded.last_seen, pending = max(users.pending, excluded.pending)`,
      userId,
      now,
      changed ? 1 : 0,
    );
  }

  lastSeen(userIds: readonly string[]): Map<string, number | null> {
    const rows = this.sql
      .exec<{ user_id: string; last_seen: number | null }>(
        `SELECT user_id, last_seen FROM users WHERE user_id IN (SELECT value FROM json_each(?))`,
        JSON.stringify(userIds),
      )
      .toArray();
    return new Map(rows.map((r) => [r.user_id, r.last_seen]));
  }

  pendingChanges(limit: number): { userId: string; announced: "online" | "offline" }[] {
    return this.sql
      .exec<{ user_id: string; announced: "online" | "offline" }>(`SELECT user_id, announced FROM users WHERE pending = 1 LIMIT ?`, limit)
      .toArray()
      .map((r) => ({ userId: r.user_id, announced: r.announced }));
  }

  markAnnounced(userId: string, status: "online" | "offline"): void {
    this.sql.exec(`UPDATE users SET announced = ?, pending = 0 WHERE user_id = ?`, status, userId);
  }

  /** The highest seq of a conversation already handled here. */
  notifiedSeq(conversationId: string): number {
    const cached = this.notified.get(conversationId);
    if (cached !== undefined) return cached;
    const seq = this.sql.exec<{ seq: number }>(`SELECT seq FROM conversation_notify WHERE conversation_id = ?`, conversationId).toArray()[0]?.seq ?? 0;
    this.remember(conversationId, seq);
    return seq;
  }

  private remember(conversationId: string, seq: number): void {
    this.notified.delete(conversationId);
    if (this.notified.size >= NOTIFIED_CACHE) {
      const oldest = this.notified.keys().next().value;
      if (oldest !== undefined) this.notified.delete(oldest);
    }
    this.notified.set(conversationId, seq);
  }

  markNotified(conversationId: string, seq: number): void {
    this.remember(conversationId, Math.max(seq, this.notified.get(conversationId) ?? 0));
    this.sql.exec(
      `INSERT INTO conversation_notify (conversation_id, seq) VALUES (?, ?)
       ON CONFLICT (conversation_id) DO UPDATE SET seq = max(seq, excluded.seq)`,
      conversationId,
      seq,
    );
  }
}

function deviceFromRow(r: DeviceRow): Device {
  return {
    userId: r.user_id,
    deviceId: r.device_id,
    platform: r.platform,
    target: r.target ? pushTargetOf(JSON.parse(r.target), r.user_id, r.device_id) : null,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
  };
}

/** A stored push target, as upsertDevice wrote it; anything else is a broken invariant. */
function pushTargetOf(t: unknown, userId: string, deviceId: string): PushTarget {
  if (typeof t === "object" && t !== null && "platform" in t) {
    if ((t.platform === "fcm" || t.platform === "apns") && "token" in t && typeof t.token === "string") return { platform: t.platform, token: t.token };
    if (t.platform === "webhook" && "endpoint" in t && typeof t.endpoint === "string") return { platform: "webhook", endpoint: t.endpoint };
    if (t.platform === "webpush" && "subscription" in t) {
      const sub = t.subscription;
      if (typeof sub === "object" && sub !== null && "endpoint" in sub && typeof sub.endpoint === "string" && "keys" in sub) {
        const keys = sub.keys;
        if (typeof keys === "object" && keys !== null && "p256dh" in keys && "auth" in keys && typeof keys.p256dh === "string" && typeof keys.auth === "string") {
          return { platform: "webpush", subscription: { endpoint: sub.endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } } };
        }
      }
    }
  }
  throw new Error(`device ${userId}/${deviceId} has a push target this version cannot read`);
}
