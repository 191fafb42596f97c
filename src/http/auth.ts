import { createMiddleware } from "hono/factory";
import type { AppContext, AppEnv, Principal, PrincipalKind } from "./context";
import { ApiError } from "./errors";
import { API_KEY_PREFIX, secretsEqual, verifyUserToken } from "../auth/credentials";
import { sha256Hex } from "../lib/hash";
import { apiKeyByHash } from "../storage/api-keys";
import { statusExceptions, userStatus, type UserStatus } from "../storage/user-admin";
import { tenantDb } from "../storage/shards";
import { markActiveMany } from "../storage/usage";
import { BOT_USER_ID } from "../protocol/ids";
import { TENANT_HTTP_LIMIT } from "../protocol/limits";

/**
 * Api key hash -> tenant, and user -> token generation and status, cached briefly per isolate so most
 * requests skip the D1 lookup. The cache is short because a revoked key or token, or a deactivated user,
 * must stop working everywhere within seconds (the isolate that revoked forgets at once).
 */
const keyCache = new Map<string, { tenantId: string; expiresAt: number | null; until: number }>();
const userCache = new Map<string, { status: UserStatus | undefined; until: number }>();
/**
 * Per tenant, the few people whose tokens are not all valid (revoked or deactivated): one D1 read
 * answers for every person of the tenant, so 2,000 people reconnecting after a deploy cost one read,
 * not 2,000. A tenant with more such people than EXCEPTIONS_MAX is asked per person.
 */
const tenantCache = new Map<string, { exceptions: Map<string, UserStatus> | undefined; until: number }>();
/** People recorded as active today by this isolate (usage), so each is written once a day, not per request. */
const activeToday = new Set<string>();
/**
 * People newly seen active, written by group commit: the first is written at once, and those who come
 * while a write is in flight go together in the next one. 2,000 people reconnecting at once cost a
 * few D1 batches, not 2,000 writes; one person alone waits for nobody. Keyed by tenant and day.
 */
const activeBuffer = new Map<string, { tenantId: string; day: number; db: D1Database; users: Set<string>; ts: number }>();
let activeWriting = false;
const activeKey = (tenantId: string, userId: string, day: number) => `${tenantId}\n${userId}\n${day}`;
export const CREDENTIAL_CACHE_MS = 5_000;
const CACHE_MAX = 10_000;
const EXCEPTIONS_MAX = 1_000;

/**
 * Authenticate the request and require one of the given kinds of principal. Cheap checks first:
 * no credential and malformed credentials are refused before any crypto or storage. A valid
 * credential of the wrong kind is 403; anything else wrong is 401.
 */
export function requirePrincipal(...allowed: PrincipalKind[]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const upgrade = c.req.header("upgrade")?.toLowerCase() === "websocket";
    const principal = await authenticate(c, upgrade && allowed.includes("user"));
    if (!allowed.includes(principal.kind)) {
      throw new ApiError("forbidden", `this endpoint needs ${allowed.map(describeKind).join(" or ")}`);
    }
    c.set("principal", principal);
    // WebSocket upgrades are bounded per conversation and per device instead: a whole tenant's devices
    // reconnecting after a deploy must not be refused by the HTTP ceiling.
    if (principal.kind !== "operator" && !upgrade) {
      const { success } = await c.env.TENANT_LIMITER.limit({ key: principal.tenantId });
      if (!success) throw new ApiError("rate_limited", "too many requests for this tenant", TENANT_HTTP_LIMIT.periodSeconds);
    }
    await next();
  });
}

/**
 * A credential in the URL ends up in access logs, proxies and browser history, so `?token=` is taken
 * only where a browser cannot set a header (a WebSocket upgrade), and only as a user token: api keys
 * and the operator token never travel in a URL.
 */
async function authenticate(c: AppContext, queryTokenAllowed: boolean): Promise<Principal> {
  const inQuery = c.req.query("token");
  if (inQuery !== undefined && !queryTokenAllowed) {
    throw new ApiError("unauthorized", "?token= is accepted only on WebSocket upgrades: send Authorization: Bearer <token>");
  }
  const header = c.req.header("authorization");
  let credential: string | undefined;
  if (header !== undefined) {
    const match = /^Bearer ([\x21-\x7e]{1,4096})$/i.exec(header.trim());
    if (!match?.[1]) throw new ApiError("unauthorized", "Authorization: expected 'Bearer <credential>'");
    credential = match[1];
  } else if (inQuery !== undefined) {
    if (inQuery.split(".").length !== 3) throw new ApiError("unauthorized", "?token= takes a user token only");
    credential = inQuery;
  }
  if (!credential) throw new ApiError("unauthorized", "missing credential: send Authorization: Bearer <token>");

  if (credential.startsWith(API_KEY_PREFIX)) {
    const key = await apiKeyOf(c.env.DB, credential);
    if (!key) throw new ApiError("unauthorized", "unknown api key");
    if (key.expiresAt !== null && key.expiresAt <= Date.now()) throw new ApiError("unauthorized", "api key expired");
    return { kind: "tenant", tenantId: key.tenantId };
  }
  if (credential.split(".").length === 3) {
    const claims = await verifyUserToken(c.env.TOKEN_SIGNING_KEY, credential);
    if (!claims) throw new ApiError("unauthorized", "invalid or expired user token");
    const status = await statusOfUser(c, claims.tenantId, claims.userId);
    if (!status) throw new ApiError("unauthorized", "user token of an unknown user");
    if (status.deactivated) throw new ApiError("unauthorized", "this user has been deactivated");
    if (claims.generation !== status.tokenGeneration) throw new ApiError("unauthorized", "user token revoked");
    return { kind: "user", tenantId: claims.tenantId, userId: claims.userId };
  }
  if (c.env.ADMIN_TOKEN && (await secretsEqual(credential, c.env.ADMIN_TOKEN))) return { kind: "operator" };
  throw new ApiError("unauthorized", "unrecognised credential");
}

async function apiKeyOf(db: D1Database, key: string): Promise<{ tenantId: string; expiresAt: number | null } | undefined> {
  const hash = await sha256Hex(key);
  const now = Date.now();
  const cached = keyCache.get(hash);
  if (cached && cached.until > now) return cached;
  const row = await apiKeyByHash(db, hash);
  if (row) {
    if (keyCache.size >= CACHE_MAX) keyCache.clear();
    keyCache.set(hash, { ...row, until: now + CREDENTIAL_CACHE_MS });
  }
  return row;
}

async function statusOfUser(c: AppContext, tenantId: string, userId: string): Promise<UserStatus | undefined> {
  const now = Date.now();
  const db = tenantDb(c.env, tenantId);
  const status = await lookUpStatus(db, tenantId, userId, now);
  // Usage: the person was active today. Written once a day per person and isolate, after the answer.
  const day = Math.floor(now / 86_400_000);
  const active = activeKey(tenantId, userId, day);
  if (status && !status.deactivated && !activeToday.has(active)) {
    if (activeToday.size >= CACHE_MAX) activeToday.clear();
    activeToday.add(active);
    const window = `${tenantId}\n${day}`;
    let pending = activeBuffer.get(window);
    if (!pending) activeBuffer.set(window, (pending = { tenantId, day, db, users: new Set(), ts: now }));
    pending.users.add(userId);
    if (!activeWriting) {
      activeWriting = true;
      c.executionCtx.waitUntil(writeActive());
    }
  }
  return status;
}

/** Write the buffered activity until none is left; what fails is forgotten by the day set, so a later request writes it again. */
async function writeActive(): Promise<void> {
  try {
    while (activeBuffer.size > 0) {
      const batches = [...activeBuffer.values()];
      activeBuffer.clear();
      await Promise.all(
        batches.map((b) =>
          markActiveMany(b.db, b.tenantId, [...b.users], b.ts).catch((err: unknown) => {
            for (const userId of b.users) activeToday.delete(activeKey(b.tenantId, userId, b.day));
            console.error("recording active people failed; retried on their next request", err);
          }),
        ),
      );
    }
  } finally {
    activeWriting = false;
  }
}

async function lookUpStatus(db: D1Database, tenantId: string, userId: string, now: number): Promise<UserStatus | undefined> {
  let tenant = tenantCache.get(tenantId);
  if (!tenant || tenant.until <= now) {
    if (tenantCache.size >= CACHE_MAX) tenantCache.clear();
    tenant = { exceptions: await statusExceptions(db, tenantId, EXCEPTIONS_MAX), until: now + CREDENTIAL_CACHE_MS };
    tenantCache.set(tenantId, tenant);
  }
  // A user token names a person who existed when it was signed, and people are never deleted.
  if (tenant.exceptions) return tenant.exceptions.get(userId) ?? { tokenGeneration: 0, deactivated: false };
  const key = `${tenantId}\n${userId}`;
  const cached = userCache.get(key);
  if (cached && cached.until > now) return cached.status;
  const status = await userStatus(db, tenantId, userId);
  if (userCache.size >= CACHE_MAX) userCache.clear();
  userCache.set(key, { status, until: now + CREDENTIAL_CACHE_MS });
  return status;
}

/** Forget what this isolate cached of a key or user, right after revoking or deactivating it. */
export function forgetCredential(target: { keyHash: string } | { tenantId: string; userId: string }): void {
  if ("keyHash" in target) keyCache.delete(target.keyHash);
  else {
    userCache.delete(`${target.tenantId}\n${target.userId}`);
    tenantCache.delete(target.tenantId);
  }
}

function describeKind(kind: PrincipalKind): string {
  return kind === "operator" ? "the operator token" : kind === "tenant" ? "a tenant api key" : "a user token";
}

/**
 * The tenant and acting user of a member-level request: a user, or the tenant backend as its bot,
 * which acts with the rights of the tenant's administrator (`tenantAdmin`).
 */
export function actorOf(c: AppContext, deviceId = "http"): { tenantId: string; userId: string; deviceId: string; tenantAdmin?: true } {
  const p = c.get("principal");
  if (p.kind === "user") return { tenantId: p.tenantId, userId: p.userId, deviceId };
  if (p.kind === "tenant") return { tenantId: p.tenantId, userId: BOT_USER_ID, deviceId, tenantAdmin: true };
  throw new ApiError("forbidden", "the operator token cannot act in a tenant");
}

/** The tenant of a tenant-level request. */
export function tenantOf(c: AppContext): string {
  const p = c.get("principal");
  if (p.kind === "operator") throw new ApiError("forbidden", "the operator token cannot act in a tenant");
  return p.tenantId;
}
