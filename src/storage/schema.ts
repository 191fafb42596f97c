import { sqliteTable, text, integer, primaryKey, index, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * The D1 schema: tenants, credentials, users, and the tenant-wide mirror of conversations.
 * Conversation objects own their data; the tables below `users` are copies they keep up to date.
 */

export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: integer("created_at").notNull(),
  /** Messages older than this many days are deleted by the retention job; null keeps them forever. */
  retentionDays: integer("retention_days"),
  /** How long after sending an author may edit a message (seconds). */
  editWindowSeconds: integer("edit_window_seconds").notNull().default(86_400),
  /** How long after sending an author may recall a message (seconds); group admins may at any time. */
  recallWindowSeconds: integer("recall_window_seconds").notNull().default(600),
  /** Largest attachment a member may upload (bytes). */
  attachmentMaxBytes: integer("attachment_max_bytes").notNull().default(26_214_400),
  /** Accepted attachment content types as a JSON array; null accepts every supported type. */
  attachmentTypes: text("attachment_types"),
  /** Days the tenant's reporting events (GET /v1/events) are kept. */
  eventRetentionDays: integer("event_retention_days").notNull().default(7),
});

/** Tenant api keys, stored only as the SHA-256 of the key. */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    keyHash: text("key_hash").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    createdAt: integer("created_at").notNull(),
    /** Public id of the key (`key_` + the first 16 hex digits of its hash): how it is listed and revoked. */
    id: text("id"),
    label: text("label"),
    /** The key stops working at this time; null never expires. */
    expiresAt: integer("expires_at"),
  },
  (t) => [index("api_keys_tenant").on(t.tenantId), uniqueIndex("api_keys_id").on(t.id)],
);

export const users = sqliteTable(
  "users",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    id: text("id").notNull(),
    name: text("name").notNull(),
    title: text("title"),
    avatarUrl: text("avatar_url"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /** Set when the tenant deactivated the person: no sign-in, no new membership; past messages stay. */
    deactivatedAt: integer("deactivated_at"),
    /** Tokens carry the generation they were issued under; revoking tokens moves it on. */
    tokenGeneration: integer("token_generation").notNull().default(0),
    /** The person administers the tenant's CRM: the default inbox members of a new integration. */
    crmAdmin: integer("crm_admin", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
);

/**
 * A person's ids in the tenant's CRM systems (`hubspot`, `salesforce`, or the tenant's own names), so a
 * CRM event's owner finds its user. `crmKey` is the id in comparable form (Salesforce: the 15-character
 * case-sensitive id) and is unique per tenant and system; `crmId` is the id as given.
 */
export const userCrmIds = sqliteTable(
  "user_crm_ids",
  {
    tenantId: text("tenant_id").notNull(),
    system: text("system").notNull(),
    crmKey: text("crm_key").notNull(),
    crmId: text("crm_id").notNull(),
    userId: text("user_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.system, t.crmKey] }), index("user_crm_ids_user").on(t.tenantId, t.userId)],
);

/** One row per conversation, written only by that conversation's object (its outbox flush). */
export const conversations = sqliteTable(
  "conversations",
  {
    tenantId: text("tenant_id").notNull(),
    id: text("id").notNull(),
    type: text("type", { enum: ["direct", "group"] }).notNull(),
    name: text("name"),
    createdAt: integer("created_at").notNull(),
    lastSeq: integer("last_seq").notNull().default(0),
    /** Time of the last message, or of creation: the "recent activity" sort key. */
    activityAt: integer("activity_at").notNull(),
    /** The last message as JSON, with a `preview`. */
    lastMessage: text("last_message"),
    /** The object's change counter at the time of this copy; older copies never overwrite newer ones. */
    version: integer("version").notNull(),
    /** Messages people read (all but `system` events) so far: unread = messageCount - member's readCount. */
    messageCount: integer("message_count").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
);

export const memberships = sqliteTable(
  "memberships",
  {
    tenantId: text("tenant_id").notNull(),
    conversationId: text("conversation_id").notNull(),
    userId: text("user_id").notNull(),
    role: text("role", { enum: ["owner", "admin", "member"] }).notNull(),
    readSeq: integer("read_seq").notNull().default(0),
    /** How many countable messages are at or before readSeq. */
    readCount: integer("read_count").notNull().default(0),
    muted: integer("muted", { mode: "boolean" }).notNull().default(false),
    joinedAt: integer("joined_at").notNull(),
    version: integer("version").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.conversationId, t.userId] }),
    index("memberships_user").on(t.tenantId, t.userId),
  ],
);

/**
 * Messages a member deleted for themself: written by the conversation object when it records one, read by
 * search (which leaves them out for that member only).
 */
export const hiddenMessages = sqliteTable(
  "hidden_messages",
  {
    tenantId: text("tenant_id").notNull(),
    userId: text("user_id").notNull(),
    conversationId: text("conversation_id").notNull(),
    seq: integer("seq").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.userId, t.conversationId, t.seq] })],
);

/** One row per push job: makes redelivered queue messages idempotent and keeps the last outcome. */
export const pushDeliveries = sqliteTable(
  "push_deliveries",
  {
    jobId: text("job_id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    userId: text("user_id").notNull(),
    deviceId: text("device_id").notNull(),
    status: text("status", { enum: ["delivered", "retrying", "gone", "failed", "dead"] }).notNull(),
    attempts: integer("attempts").notNull(),
    detail: text("detail"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("push_deliveries_device").on(t.tenantId, t.userId, t.deviceId)],
);

/**
 * The tenant-wide message history: a copy of every conversation's log, written by its outbox, for
 * search. `text` is what full-text search indexes; `grams` is `text` with every run of CJK characters
 * spelled out as its single characters and pairs (the index for 1-2 character queries). The FTS5
 * tables over both live in a hand-written migration: drizzle cannot declare virtual tables.
 */
export const messages = sqliteTable(
  "messages",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    tenantId: text("tenant_id").notNull(),
    conversationId: text("conversation_id").notNull(),
    seq: integer("seq").notNull(),
    clientId: text("client_id").notNull(),
    sender: text("sender").notNull(),
    kind: text("kind").notNull(),
    body: text("body").notNull(),
    text: text("text").notNull(),
    grams: text("grams").notNull(),
    ts: integer("ts").notNull(),
    editedAt: integer("edited_at"),
    recalled: integer("recalled", { mode: "boolean" }).notNull().default(false),
    /** The object's version of this message; an older copy never overwrites a newer one. */
    version: integer("version").notNull(),
  },
  (t) => [
    uniqueIndex("messages_position").on(t.tenantId, t.conversationId, t.seq),
    index("messages_tenant_ts").on(t.tenantId, t.ts),
  ],
);

/**
 * CRM ingress integrations. HMAC secrets (standard, hubspot) are stored encrypted with a key derived
 * from a Worker secret, so a leaked row alone cannot sign deliveries; URL tokens (salesforce, slack)
 * are stored only as their SHA-256.
 */
export const integrations = sqliteTable(
  "integrations",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    kind: text("kind", { enum: ["standard", "hubspot", "salesforce", "slack"] }).notNull(),
    name: text("name").notNull(),
    conversationId: text("conversation_id"),
    /** The inbox for events of unknown owners, once created (its id is derived from the integration's). */
    inboxConversationId: text("fallback_conversation_id"),
    /** JSON array of the inbox's people; null until resolved (see src/crm/inbox.ts). */
    inboxMembers: text("inbox_members"),
    secretCiphertext: text("secret_ciphertext"),
    tokenHash: text("token_hash"),
    organizationId: text("organization_id"),
    hubspotVersions: text("hubspot_versions"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("integrations_tenant").on(t.tenantId)],
);

/**
 * The ingress delivery log, one row per event: claimed before posting (a replay within the retention
 * window finds the row and is answered without posting), then completed with where the card went.
 */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    integrationId: text("integration_id").notNull(),
    deliveryId: text("delivery_id").notNull(),
    receivedAt: integer("received_at").notNull(),
    state: text("state", { enum: ["claimed", "done"] }).notNull().default("done"),
    /** See src/crm/routing.ts. */
    outcome: text("outcome", { enum: ["posted", "rejoined", "inbox", "failed"] }),
    conversationId: text("conversation_id"),
    seq: integer("seq"),
    detail: text("detail"),
  },
  (t) => [
    primaryKey({ columns: [t.integrationId, t.deliveryId] }),
    index("webhook_deliveries_age").on(t.receivedAt),
    index("webhook_deliveries_recent").on(t.integrationId, t.receivedAt),
  ],
);

/** Outbound event subscriptions of a tenant's CRM (signed with Standard Webhooks). */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    url: text("url").notNull(),
    secretCiphertext: text("secret_ciphertext").notNull(),
    /** JSON array of event types. */
    events: text("events").notNull(),
    /** JSON array of conversation ids for message.created, or null for all. */
    conversationIds: text("conversation_ids"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("webhook_endpoints_tenant").on(t.tenantId)],
);

/** The last attempts of each outbound delivery, readable by the tenant. */
export const endpointDeliveries = sqliteTable(
  "endpoint_deliveries",
  {
    eventId: text("event_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    tenantId: text("tenant_id").notNull(),
    type: text("type").notNull(),
    status: text("status", { enum: ["delivered", "retrying", "failed", "dead"] }).notNull(),
    attempts: integer("attempts").notNull(),
    responseStatus: integer("response_status"),
    detail: text("detail"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.endpointId, t.eventId] }), index("endpoint_deliveries_recent").on(t.endpointId, t.updatedAt)],
);

/** Who changed what, when and from where: every administrative change, per tenant (null: operator-wide). */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    tenantId: text("tenant_id"),
    ts: integer("ts").notNull(),
    actorKind: text("actor_kind", { enum: ["operator", "tenant", "user"] }).notNull(),
    actorId: text("actor_id"),
    action: text("action").notNull(),
    target: text("target"),
    /** JSON; ids and settings only, never a secret. */
    details: text("details"),
    requestId: text("request_id"),
    country: text("country"),
  },
  (t) => [
    index("audit_log_tenant").on(t.tenantId, t.id),
    index("audit_log_tenant_action").on(t.tenantId, t.action, t.id),
    index("audit_log_actor").on(t.actorKind, t.id),
  ],
);

/** The tenant-visible part of the reporting log: side effects and their outcomes (GET /v1/events). */
export const events = sqliteTable(
  "events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    tenantId: text("tenant_id").notNull(),
    ts: integer("ts").notNull(),
    type: text("type").notNull(),
    /** JSON: ids, counts, outcomes; never a body, token or secret. */
    data: text("data").notNull(),
  },
  (t) => [index("events_tenant").on(t.tenantId, t.id), index("events_tenant_type").on(t.tenantId, t.type, t.id), index("events_ts").on(t.ts)],
);

/** Per tenant and UTC day: counters of what the tenant used (messages, deliveries, pushes by provider, ...). */
export const usageDaily = sqliteTable(
  "usage_daily",
  {
    tenantId: text("tenant_id").notNull(),
    /** YYYY-MM-DD, UTC. */
    day: text("day").notNull(),
    metric: text("metric").notNull(),
    value: integer("value").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.day, t.metric] })],
);

/** Who was active (made an authenticated request or opened a socket) on a day. */
export const usageActiveUsers = sqliteTable(
  "usage_active_users",
  {
    tenantId: text("tenant_id").notNull(),
    day: text("day").notNull(),
    userId: text("user_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.day, t.userId] })],
);

/** Levels rather than flows: what a tenant holds now (attachment bytes stored). */
export const tenantUsageLevels = sqliteTable(
  "tenant_usage_levels",
  {
    tenantId: text("tenant_id").notNull(),
    metric: text("metric").notNull(),
    value: integer("value").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.metric] })],
);

/** Operator-set ceilings per tenant; null is no ceiling. */
export const tenantQuotas = sqliteTable("tenant_quotas", {
  tenantId: text("tenant_id").primaryKey(),
  users: integer("users"),
  attachmentBytes: integer("attachment_bytes"),
  messagesPerDay: integer("messages_per_day"),
  openSockets: integer("open_sockets"),
  updatedAt: integer("updated_at").notNull(),
});
