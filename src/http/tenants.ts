import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "./context";
import { requirePrincipal } from "./auth";
import { readJson } from "./body";
import { ApiError } from "./errors";
import { TenantId } from "../protocol/ids";
import { LIMITS } from "../protocol/limits";
import { newApiKey, sha256Hex } from "../auth/credentials";
import { addApiKey, createTenant, getTenant } from "../storage/tenants";

const CreateTenant = z.object({
  id: TenantId,
  name: z.string().trim().min(1).max(LIMITS.tenantNameChars),
});

/** Operator endpoints: tenants and their api keys. */
export const tenantRoutes = new Hono<AppEnv>()
  .use(requirePrincipal("operator"))
  .post("/", async (c) => {
    const input = await readJson(c, CreateTenant);
    const apiKey = newApiKey();
    const created = await createTenant(c.env.DB, { id: input.id, name: input.name, createdAt: Date.now() }, await sha256Hex(apiKey));
    if (!created) throw new ApiError("conflict", `id: tenant ${input.id} already exists`);
    return c.json({ id: input.id, name: input.name, apiKey }, 201);
  })
  .post("/:tenantId/api-keys", async (c) => {
    const tenantId = c.req.param("tenantId");
    const tenant = TenantId.safeParse(tenantId).success ? await getTenant(c.env.DB, tenantId) : undefined;
    if (!tenant) throw new ApiError("not_found", "tenant not found");
    const apiKey = newApiKey();
    await addApiKey(c.env.DB, tenant.id, await sha256Hex(apiKey), Date.now());
    return c.json({ tenantId: tenant.id, apiKey }, 201);
  });
