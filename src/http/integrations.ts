import { Hono } from "hono";
import { z } from "zod";
import type { AppContext, AppEnv } from "./context";
import { requirePrincipal, tenantOf } from "./auth";
import { readJson } from "./body";
import { ApiError } from "./errors";
import { INTEGRATION_KINDS, type IntegrationKind } from "../crm/types";
import { newStandardSecret } from "../crm/adapters";
import { seal } from "../auth/sealing";
import { sha256Hex } from "../auth/credentials";
import { deleteIntegration, insertIntegration, integrationOf, integrationsOf, updateIntegrationSecret, type IntegrationRow } from "../storage/integrations";
import { ConversationId, BOT_USER_ID } from "../protocol/ids";
import { roomStub } from "../objects";

const CreateIntegration = z.object({
  kind: z.enum(INTEGRATION_KINDS),
  name: z.string().trim().min(1).max(120),
  conversationId: ConversationId.optional(),
  /** Where cards of unknown owners go; created on first need when left out. */
  fallbackConversationId: ConversationId.optional(),
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
      const secret = clientSecret ?? randomToken();
      return { secret, urlToken: null, stored: { secretCiphertext: await seal(c.env.TOKEN_SIGNING_KEY, secret), tokenHash: null } };
    }
    case "salesforce":
    case "slack": {
      // The URL is the credential; only its hash is kept.
      const token = randomToken();
      return { secret: token, urlToken: token, stored: { secretCiphertext: null, tokenHash: await sha256Hex(token) } };
    }
  }
}

function randomToken(): string {
  return [...crypto.getRandomValues(new Uint8Array(24))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function hookUrl(c: AppContext, id: string, urlToken: string | null): string {
  return new URL(urlToken ? `/v1/hooks/${id}/${urlToken}` : `/v1/hooks/${id}`, c.req.url).toString();
}

function view(row: IntegrationRow) {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    conversationId: row.conversationId,
    fallbackConversationId: row.fallbackConversationId,
    organizationId: row.organizationId,
    createdAt: row.createdAt,
  };
}

async function requireBotMember(c: AppContext, conversationId: string | undefined, field: string) {
  if (!conversationId) return;
  const res = await roomStub(c.env, tenantOf(c), conversationId).getConversation({ tenantId: tenantOf(c), userId: BOT_USER_ID });
  if (!res.ok) throw new ApiError("invalid_request", `${field}: the tenant's bot is not a member of that conversation`);
}

/** CRM integrations of the calling tenant (tenant api key). */
export const integrationRoutes = new Hono<AppEnv>()
  .use(requirePrincipal("tenant"))
  .post("/", async (c) => {
    const input = await readJson(c, CreateIntegration);
    const tenantId = tenantOf(c);
    await requireBotMember(c, input.conversationId, "conversationId");
    await requireBotMember(c, input.fallbackConversationId, "fallbackConversationId");
    const id = `int_${randomToken().slice(0, 32)}`;
    const issued = await issueSecret(c, input.kind, input.clientSecret);
    const row: IntegrationRow = {
      id,
      tenantId,
      kind: input.kind,
      name: input.name,
      conversationId: input.conversationId ?? null,
      fallbackConversationId: input.fallbackConversationId ?? null,
      ...issued.stored,
      organizationId: input.organizationId ?? null,
      hubspotVersions: input.hubspotVersions ? JSON.stringify(input.hubspotVersions) : null,
      createdAt: Date.now(),
    };
    await insertIntegration(c.env.DB, row);
    return c.json({ ...view(row), url: hookUrl(c, id, issued.urlToken), secret: issued.secret }, 201);
  })
  .get("/", async (c) => c.json({ integrations: (await integrationsOf(c.env.DB, tenantOf(c))).map(view) }))
  .get("/:id", async (c) => {
    const row = await integrationOf(c.env.DB, tenantOf(c), c.req.param("id"));
    if (!row) throw new ApiError("not_found", "integration not found");
    return c.json(view(row));
  })
  .post("/:id/rotate", async (c) => {
    const row = await integrationOf(c.env.DB, tenantOf(c), c.req.param("id"));
    if (!row) throw new ApiError("not_found", "integration not found");
    const body = await readJson(c, z.object({ clientSecret: z.string().min(8).max(256).optional() }));
    const issued = await issueSecret(c, row.kind, body.clientSecret);
    await updateIntegrationSecret(c.env.DB, row.tenantId, row.id, issued.stored);
    return c.json({ ...view(row), url: hookUrl(c, row.id, issued.urlToken), secret: issued.secret });
  })
  .delete("/:id", async (c) => {
    if (!(await deleteIntegration(c.env.DB, tenantOf(c), c.req.param("id")))) throw new ApiError("not_found", "integration not found");
    return c.body(null, 204);
  });

