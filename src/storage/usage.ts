import { drizzle } from "drizzle-orm/d1";
import { and, asc, between, eq, isNull, sql } from "drizzle-orm";
import { tenantQuotas, tenants, tenantUsageLevels, usageActiveUsers, usageDaily, users } from "./schema";
import { compiled, jsonRows } from "./d1";
import { BOT_USER_ID } from "../protocol/ids";

/**
 * Counters kept per tenant and UTC day. `sockets_peak:<shard>` keeps each presence shard's maximum of open
 * device channels (summed when read); the others add up.
 */
export const DAILY_METRICS = [
  "messages",
  "deliveries",
  "push.webpush",
  "push.fcm",
  "push.apns",
  "push.webhook",
  "crm_events",
  "attachment_bytes_uploaded",
  "sockets_peak",
] as const;
export type DailyMetric = (typeof DAILY_METRICS)[number];

/** The UTC day of a time, as usage is keyed. */
export function dayOf(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}

/**
 * Statements adding to a tenant's counters of a day, for a batch (the mirror flush's also carries the
 * messages it copies and the deliveries since the last flush). Zero counts are skipped; `sockets_peak`
 * keeps the day's maximum, the others add up.
 */
export function usageBatchStatements(db: D1Database, tenantId: string, ts: number, counts: Partial<Record<DailyMetric, number>>): D1PreparedStatement[] {
  const day = dayOf(ts);
  return Object.entries(counts).flatMap(([metric, value]) =>
    value !== undefined && value > 0 ? [(metric === "sockets_peak" ? raiseDaily : addDaily)(db, { tenantId, day, metric, value })] : [],
  );
}

const p = sql.placeholder;
const dailyRow = { tenantId: p("tenantId"), day: p("day"), metric: p("metric"), value: p("value") };
const dailyKey = [usageDaily.tenantId, usageDaily.day, usageDaily.metric];
const addDaily = compiled((orm) => orm.insert(usageDaily).values(dailyRow).onConflictDoUpdate({ target: dailyKey, set: { value: sql`${usageDaily.value} + excluded.value` } }));
const raiseDaily = compiled((orm) => orm.insert(usageDaily).values(dailyRow).onConflictDoUpdate({ target: dailyKey, set: { value: sql`max(${usageDaily.value}, excluded.value)` } }));

const messagesQuota = compiled((orm) =>
  orm
    .select({ limit: sql<number | null>`${tenantQuotas.messagesPerDay}`.as("lim"), used: sql<number | null>`${usageDaily.value}`.as("used") })
    .from(tenants)
    .leftJoin(tenantQuotas, eq(tenantQuotas.tenantId, tenants.id))
    .leftJoin(usageDaily, and(eq(usageDaily.tenantId, tenants.id), eq(usageDaily.day, p("day")), eq(usageDaily.metric, "messages")))
    .where(eq(tenants.id, p("tenantId"))),
);

/**
 * A statement reading the tenant's messages-per-day quota and its messages counted so far on the day of
 * `ts`, to ride in another batch; `messagesQuotaStatement.row` reads its result.
 */
export function messagesQuotaStatement(db: D1Database, tenantId: string, ts: number): D1PreparedStatement {
  return messagesQuota(db, { tenantId, day: dayOf(ts) });
}

/** The quota (null: none) and the day's messages of a `messagesQuotaStatement` result. */
messagesQuotaStatement.row = (result: D1Result | undefined): { limit: number | null; used: number } => {
  const row: unknown = result?.results?.[0];
  const columns = new Map(typeof row === "object" && row !== null ? Object.entries(row) : []);
  return { limit: quotaNumber(columns.get("lim"), "lim") ?? null, used: quotaNumber(columns.get("used"), "used") ?? 0 };
};

/** A number column of the quota row; null when absent (no quota, nothing counted yet, or no tenant row). */
function quotaNumber(value: unknown, name: string): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "number") throw new Error(`messages quota row: ${name} is not a number`);
  return value;
}

/**
 * Record a presence shard's open device channels as its peak of the day when they are more than the
 * peak recorded (the tenant's peak is the sum of its shards').
 */
export async function recordSocketsPeak(db: D1Database, tenantId: string, shard: number, ts: number, open: number): Promise<void> {
  await raiseDaily(db, { tenantId, day: dayOf(ts), metric: `sockets_peak:${shard}`, value: open }).run();
}

export async function addUsage(db: D1Database, tenantId: string, ts: number, counts: Partial<Record<DailyMetric, number>>): Promise<void> {
  const statements = usageBatchStatements(db, tenantId, ts, counts);
  if (statements.length > 0) await db.batch(statements);
}

/** Ids per activity statement (one JSON parameter; far under D1's bound-value size). */
const ACTIVE_IDS_PER_STATEMENT = 2_000;

const markActive = compiled((orm) =>
  orm
    .insert(usageActiveUsers)
    .select(jsonRows(usageActiveUsers, p("rows"), { tenantId: p("tenantId"), day: p("day") }))
    .onConflictDoNothing(),
);

/** Record that these users were active on the day, in one batch (idempotent). */
export async function markActiveMany(db: D1Database, tenantId: string, userIds: readonly string[], ts: number): Promise<void> {
  const day = dayOf(ts);
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < userIds.length; i += ACTIVE_IDS_PER_STATEMENT) {
    statements.push(markActive(db, { tenantId, day, rows: JSON.stringify(userIds.slice(i, i + ACTIVE_IDS_PER_STATEMENT).map((userId) => ({ userId }))) }));
  }
  if (statements.length > 0) await db.batch(statements);
}

/** Move a level (e.g. attachment bytes stored) by `delta`; it never goes below zero. */
export async function adjustLevel(db: D1Database, tenantId: string, metric: "attachment_bytes_stored", delta: number): Promise<void> {
  await drizzle(db)
    .insert(tenantUsageLevels)
    .values({ tenantId, metric, value: Math.max(0, delta) })
    .onConflictDoUpdate({ target: [tenantUsageLevels.tenantId, tenantUsageLevels.metric], set: { value: sql`max(0, ${tenantUsageLevels.value} + ${delta})` } });
}

export async function levelOf(db: D1Database, tenantId: string, metric: "attachment_bytes_stored"): Promise<number> {
  const row = await drizzle(db)
    .select({ value: tenantUsageLevels.value })
    .from(tenantUsageLevels)
    .where(and(eq(tenantUsageLevels.tenantId, tenantId), eq(tenantUsageLevels.metric, metric)))
    .get();
  return row?.value ?? 0;
}

export interface DayUsage {
  day: string;
  messages: number;
  deliveries: number;
  pushes: { webpush: number; fcm: number; apns: number; webhook: number };
  crmEvents: number;
  attachmentBytesUploaded: number;
  activeUsers: number;
  openSocketsPeak: number;
}

/** A tenant's usage per day in [from, to] (days with nothing are left out). */
export async function usageByDay(db: D1Database, tenantId: string, from: string, to: string): Promise<DayUsage[]> {
  const orm = drizzle(db);
  const [counters, active] = await Promise.all([
    orm
      .select({ day: usageDaily.day, metric: usageDaily.metric, value: usageDaily.value })
      .from(usageDaily)
      .where(and(eq(usageDaily.tenantId, tenantId), between(usageDaily.day, from, to)))
      .orderBy(asc(usageDaily.day))
      .all(),
    orm
      .select({ day: usageActiveUsers.day, n: sql<number>`count(*)` })
      .from(usageActiveUsers)
      .where(and(eq(usageActiveUsers.tenantId, tenantId), between(usageActiveUsers.day, from, to)))
      .groupBy(usageActiveUsers.day)
      .all(),
  ]);
  const days = new Map<string, DayUsage>();
  const dayEntry = (day: string): DayUsage => {
    let entry = days.get(day);
    if (!entry) {
      entry = { day, messages: 0, deliveries: 0, pushes: { webpush: 0, fcm: 0, apns: 0, webhook: 0 }, crmEvents: 0, attachmentBytesUploaded: 0, activeUsers: 0, openSocketsPeak: 0 };
      days.set(day, entry);
    }
    return entry;
  };
  for (const c of counters) {
    const entry = dayEntry(c.day);
    const metric = c.metric;
    if (metric === "messages") entry.messages = c.value;
    else if (metric === "deliveries") entry.deliveries = c.value;
    else if (metric === "crm_events") entry.crmEvents = c.value;
    else if (metric === "attachment_bytes_uploaded") entry.attachmentBytesUploaded = c.value;
    else if (c.metric.startsWith("sockets_peak")) entry.openSocketsPeak += c.value;
    else if (metric === "push.webpush") entry.pushes.webpush = c.value;
    else if (metric === "push.fcm") entry.pushes.fcm = c.value;
    else if (metric === "push.apns") entry.pushes.apns = c.value;
    else if (metric === "push.webhook") entry.pushes.webhook = c.value;
  }
  for (const a of active) dayEntry(a.day).activeUsers = a.n;
  return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}

/** Every tenant's totals over [from, to], for the operator. */
export async function usageTotals(db: D1Database, from: string, to: string): Promise<{ tenantId: string; metric: string; value: number }[]> {
  return drizzle(db)
    .select({
      tenantId: usageDaily.tenantId,
      metric: usageDaily.metric,
      value: sql<number>`CASE WHEN ${usageDaily.metric} LIKE 'sockets_peak%' THEN max(${usageDaily.value}) ELSE sum(${usageDaily.value}) END`,
    })
    .from(usageDaily)
    .where(between(usageDaily.day, from, to))
    .groupBy(usageDaily.tenantId, usageDaily.metric)
    .orderBy(asc(usageDaily.tenantId))
    .all();
}

export interface Quotas {
  users: number | null;
  attachmentBytes: number | null;
  messagesPerDay: number | null;
  openSockets: number | null;
}

export const NO_QUOTAS: Quotas = { users: null, attachmentBytes: null, messagesPerDay: null, openSockets: null };

export async function quotasOf(db: D1Database, tenantId: string): Promise<Quotas> {
  const row = await drizzle(db)
    .select({ users: tenantQuotas.users, attachmentBytes: tenantQuotas.attachmentBytes, messagesPerDay: tenantQuotas.messagesPerDay, openSockets: tenantQuotas.openSockets })
    .from(tenantQuotas)
    .where(eq(tenantQuotas.tenantId, tenantId))
    .get();
  return row ?? NO_QUOTAS;
}

/** Change the given quotas (null removes one); the others keep their value. */
export async function setQuotas(db: D1Database, tenantId: string, change: Partial<Quotas>, now: number): Promise<Quotas> {
  const next = { ...(await quotasOf(db, tenantId)), ...change };
  await drizzle(db)
    .insert(tenantQuotas)
    .values({ tenantId, ...next, updatedAt: now })
    .onConflictDoUpdate({ target: tenantQuotas.tenantId, set: { ...next, updatedAt: now } });
  return next;
}

/** People who count against the users quota: everyone but the bot and the deactivated. */
export async function activeUserCount(db: D1Database, tenantId: string): Promise<number> {
  const row = await drizzle(db)
    .select({ n: sql<number>`count(*)` })
    .from(users)
    .where(and(eq(users.tenantId, tenantId), isNull(users.deactivatedAt), sql`${users.id} <> ${BOT_USER_ID}`))
    .get();
  return row?.n ?? 0;
}

/** Messages the tenant stored today (as its conversations' mirror has counted them so far). */
export async function messagesToday(db: D1Database, tenantId: string, now: number): Promise<number> {
  const row = await drizzle(db)
    .select({ value: usageDaily.value })
    .from(usageDaily)
    .where(and(eq(usageDaily.tenantId, tenantId), eq(usageDaily.day, dayOf(now)), eq(usageDaily.metric, "messages")))
    .get();
  return row?.value ?? 0;
}
