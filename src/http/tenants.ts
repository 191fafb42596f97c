import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import type { AppEnv } from "./context";
import { requirePrincipal } from "./auth";
import { jsonBody } from "./body";
import { ApiError } from "./errors";
import { TenantId } from "../protocol/ids";
import { LIMITS } from "../protocol/limits";
import { newApiKey } from "../auth/credentials";
import { sha256Hex } from "../lib/hash";
import { createTenant, getTenant } from "../storage/tenants";
import { addApiKey } from "../storage/api-keys";
import { audit } from "./audit";

const CreateTenant = z.object({
  id: TenantId,
  name: z.string().trim().min(1).max(LIMITS.tenantNameChars),
});

/** A new api key: an optional label and lifetime (it stops working after `expiresInSeconds`). */
export const NewApiKey = z.object({
  label: z.string().trim().min(1).max(LIMITS.tenantNameChars).optional(),
  expiresInSeconds: z.number().int().min(60).max(5 * 365 * 86_400).optional(),
});

export function newKeyOptions(input: z.infer<typeof NewApiKey>, now: number) {
  return { label: input.label, expiresAt: input.expiresInSeconds === undefined ? undefined : now + input.expiresInSeconds * 1000 };
}

/** The tenant named by `:tenantId` (404 when there is none), looked up before the body is read. */
export const knownTenant = createMiddleware<AppEnv>(async (c, next) => {
  const id = c.req.param("tenantId") ?? "";
  const tenant = TenantId.safeParse(id).success ? await getTenant(c.env.DB, id) : undefined;
  if (!tenant) throw new ApiError("not_found", "tenant not found");
  c.set("tenant", tenant);
  await next();
});

/** Operator endpoints: tenants and their api keys. */
export const tenantRoutes = new Hono<AppEnv>()
  .use(requirePrincipal("operator"))
  .post("/", jsonBody(CreateTenant), async (c) => {
    const input = c.req.valid("json");
    const apiKey = newApiKey();
    const created = await createTenant(c.env.DB, { id: input.id, name: input.name, createdAt: Date.now() }, await sha256Hex(apiKey));
    if (!created) throw new ApiError("conflict", `id: tenant ${input.id} already exists`);
    await audit(c, "tenant.created", input.id, { name: input.name }, input.id);
    return c.json({ id: input.id, name: input.name, apiKey }, 201);
  })
  .post("/:tenantId/api-keys", knownTenant, jsonBody(NewApiKey), async (c) => {
    const tenant = c.get("tenant");
    const input = c.req.valid("json");
    const apiKey = newApiKey();
    const now = Date.now();
    const key = await addApiKey(c.env.DB, tenant.id, await sha256Hex(apiKey), now, newKeyOptions(input, now));
    await audit(c, "api_key.created", key.id, { label: key.label, expiresAt: key.expiresAt }, tenant.id);
    return c.json({ tenantId: tenant.id, ...key, apiKey }, 201);
  });
