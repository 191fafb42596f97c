import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import type { AppContext, AppEnv } from "./context";
import { actorOf, requirePrincipal, tenantOf } from "./auth";
import { jsonBody } from "./body";
import { ApiError } from "./errors";
import { audit } from "./audit";
import { INTEGRATION_KINDS, type IntegrationKind } from "../crm/types";
import { newStandardSecret } from "../crm/adapters";
import { seal } from "../auth/sealing";
import { sha256Hex } from "../lib/hash";
import { randomHex } from "../lib/random";
import {
  deleteIntegration,
  deliveriesOf,
  insertIntegration,
  integrationOf,
  integrationsOf,
  updateIntegration,
  updateIntegrationSecret,
  type IntegrationRow,
} from "../storage/integrations";
import { defaultInboxPeople, unknownUserIds } from "../storage/users";
import { tenantDb } from "../storage/shards";
import { INBOX_DEFAULT_MAX, syncInboxMembers } from "../crm/inbox";
import { ConversationId, BOT_USER_ID, UserId } from "../protocol/ids";
import { roomStub } from "../objects";

/** Random bytes (192 bits) of a generated hubspot secret or salesforce / slack URL token. */
const SECRET_BYTES = 24;

/** Most people in an integration's `inboxMembers`. */
export const INBOX_MEMBERS_MAX = 200;
/** Entries of the delivery log returned at once. */
export const DELIVERY_LOG_PAGE = 100;

const InboxMembers = z
  .array(UserId)
  .min(1, "must name at least one person (an inbox nobody sees is refused)")
  .max(INBOX_MEMBERS_MAX)
  .transform((ids) => [...new Set(ids)])
  .refine((ids) => !ids.includes(BOT_USER_ID), "must name people, not the tenant's bot");

const CreateIntegration = z.object({
  kind: z.enum(INTEGRATION_KINDS),
  name: z.string().trim().min(1).max(120),
  conversationId: ConversationId.optional(),
  /** Who sees events of unknown owners (the inbox); the default rule of src/crm/inbox.ts when left out. */
  inboxMembers: InboxMembers.optional(),
  /** Earlier versions took a conversation for unassigned events; the inbox and its members replace it. */
  fallbackConversationId: z.never({ message: "replaced by inboxMembers: unassigned events go to the integration's inbox" }).optional(),
  /** hubspot: the app's client secret (HubSpot signs with it); generated when left out. */
  clientSecret: z.string().min(8).max(256).optional(),
  /** hubspot: signature versions accepted besides v3. */
  hubspotVersions: z.array(z.enum(["v1", "v2", "v3"])).min(1).optional(),
  /** salesforce: only deliveries from this organization are accepted. */
  organizationId: z.string().regex(/^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/, "must be a 15 or 18 character Salesforce id").optional(),
});

/** The credential of a new or rotated integration: what is shown once, and what is stored. */
async function issueSecret(c: AppContext, kind: IntegrationKind, clientSecret?: string) {
  switch (kind) {
    case "standard": {
      const secret = newStandardSecret();
      return { secret, urlToken: null, stored: { secretCiphertext: await seal(c.env.TOKEN_SIGNING_KEY, secret), tokenHash: null } };
    }
    case "hubspot": {
      const secret = clientSecret ?? randomHex(SECRET_BYTES);
      return { secret, urlToken: null, stored: { secretCiphertext: await seal(c.env.TOKEN_SIGNING_KEY, secret), tokenHash: null } };
    }
    case "salesforce":
    case "slack": {
      // The URL is the credential; only its hash is kept.
      const token = randomHex(SECRET_BYTES);
      return { secret: token, urlToken: token, stored: { secretCiphertext: null, tokenHash: await sha256Hex(token) } };
    }
  }
}

function hookUrl(c: AppContext, id: string, urlToken: string | null): string {
  return new URL(urlToken ? `/v1/hooks/${id}/${urlToken}` : `/v1/hooks/${id}`, c.req.url).toString();
}

const UpdateIntegration = z.object({
  name: z.string().trim().min(1).max(120).optional(),
  conversationId: ConversationId.nullable().optional(),
  inboxMembers: InboxMembers.optional(),
});

const RotateIntegration = z.object({ clientSecret: z.string().min(8).max(256).optional() });

function view(row: IntegrationRow) {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    conversationId: row.conversationId,
    inboxConversationId: row.inboxConversationId,
    inboxMembers: row.inboxMembers,
    organizationId: row.organizationId,
    createdAt: row.createdAt,
  };
}

/** The conversation must be one of the tenant's (the bot joins it with its first card when it is not a member). */
async function requireTenantConversation(c: AppContext, conversationId: string | null | undefined) {
  if (!conversationId) return;
  const res = await roomStub(c.env, tenantOf(c), conversationId).getConversation(actorOf(c));
  if (!res.ok) throw new ApiError("invalid_request", "conversationId: no such conversation in this tenant");
}

async function requirePeople(c: AppContext, ids: readonly string[] | undefined) {
  if (!ids) return;
  const unknown = await unknownUserIds(tenantDb(c.env, tenantOf(c)), tenantOf(c), ids);
  if (unknown.length > 0) throw new ApiError("invalid_request", `inboxMembers: unknown user ${unknown.slice(0, 5).join(", ")}`);
}

async function requireIntegration(c: AppContext): Promise<IntegrationRow> {
  const row = await integrationOf(c.env.DB, tenantOf(c), c.req.param("id") ?? "");
  if (!row) throw new ApiError("not_found", "integration not found");
  return row;
}

/** The calling tenant's integration named by `:id` (404 otherwise), looked up before the body is read. */
const knownIntegration = createMiddleware<AppEnv>(async (c, next) => {
  c.set("integration", await requireIntegration(c));
  await next();
});

/** CRM integrations of the calling tenant (tenant api key). */
export const integrationRoutes = new Hono<AppEnv>()
  .use(requirePrincipal("tenant"))
  .post("/", jsonBody(CreateIntegration), async (c) => {
    const input = c.req.valid("json");
    const tenantId = tenantOf(c);
    await requireTenantConversation(c, input.conversationId);
    await requirePeople(c, input.inboxMembers);
    const inboxMembers = input.inboxMembers ?? (await defaultInboxPeople(tenantDb(c.env, tenantId), tenantId, INBOX_DEFAULT_MAX));
    const id = `int_${randomHex(16)}`;
    const issued = await issueSecret(c, input.kind, input.clientSecret);
    const row: IntegrationRow = {
      id,
      tenantId,
      kind: input.kind,
      name: input.name,
      conversationId: input.conversationId ?? null,
      inboxConversationId: null,
      // Empty only for a tenant without users yet: the default rule applies again when the inbox is first needed.
      inboxMembers: inboxMembers.length > 0 ? inboxMembers : null,
      ...issued.stored,
      organizationId: input.organizationId ?? null,
      hubspotVersions: input.hubspotVersions ? JSON.stringify(input.hubspotVersions) : null,
      createdAt: Date.now(),
    };
    await insertIntegration(c.env.DB, row);
    await audit(c, "integration.created", id, { kind: row.kind, name: row.name, conversationId: row.conversationId, inboxMembers: row.inboxMembers });
    return c.json({ ...view(row), url: hookUrl(c, id, issued.urlToken), secret: issued.secret }, 201);
  })
  .get("/", async (c) => c.json({ integrations: (await integrationsOf(c.env.DB, tenantOf(c))).map(view) }))
  .get("/:id", async (c) => c.json(view(await requireIntegration(c))))
  .patch("/:id", knownIntegration, jsonBody(UpdateIntegration), async (c) => {
    const row = c.get("integration");
    const input = c.req.valid("json");
    await requireTenantConversation(c, input.conversationId);
    await requirePeople(c, input.inboxMembers);
    await updateIntegration(c.env.DB, row.tenantId, row.id, input);
    if (input.inboxMembers) await syncInboxMembers(c.env, row, row.inboxMembers ?? [], input.inboxMembers);
    await audit(c, "integration.updated", row.id, { ...input });
    return c.json(view(await requireIntegration(c)));
  })
  .get("/:id/deliveries", async (c) => {
    const row = await requireIntegration(c);
    return c.json({ deliveries: await deliveriesOf(c.env.DB, row.id, DELIVERY_LOG_PAGE) });
  })
  .post("/:id/rotate", knownIntegration, jsonBody(RotateIntegration), async (c) => {
    const row = c.get("integration");
    const body = c.req.valid("json");
    const issued = await issueSecret(c, row.kind, body.clientSecret);
    await updateIntegrationSecret(c.env.DB, row.tenantId, row.id, issued.stored);
    await audit(c, "integration.rotated", row.id);
    return c.json({ ...view(row), url: hookUrl(c, row.id, issued.urlToken), secret: issued.secret });
  })
  .delete("/:id", async (c) => {
    if (!(await deleteIntegration(c.env.DB, tenantOf(c), c.req.param("id")))) throw new ApiError("not_found", "integration not found");
    await audit(c, "integration.deleted", c.req.param("id"));
    return c.body(null, 204);
  });

