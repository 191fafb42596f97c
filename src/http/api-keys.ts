import { Hono } from "hono";
import type { AppEnv } from "./context";
import { forgetCredential, requirePrincipal, tenantOf } from "./auth";
import { jsonBody } from "./body";
import { ApiError } from "./errors";
import { audit } from "./audit";
import { NewApiKey, newKeyOptions } from "./tenants";
import { newApiKey } from "../auth/credentials";
import { sha256Hex } from "../lib/hash";
import { addApiKey, listApiKeys, revokeApiKey } from "../storage/api-keys";

/** Most keys a tenant may hold at once (rotation needs two; a few more for separate systems). */
export const API_KEYS_MAX = 20;

/** The tenant's own api keys: list, add (for rotation), revoke. */
export const apiKeyRoutes = new Hono<AppEnv>()
  .use(requirePrincipal("tenant"))
  .get("/", async (c) => c.json({ apiKeys: await listApiKeys(c.env.DB, tenantOf(c)) }))
  .post("/", jsonBody(NewApiKey), async (c) => {
    const input = c.req.valid("json");
    const tenantId = tenantOf(c);
    if ((await listApiKeys(c.env.DB, tenantId)).length >= API_KEYS_MAX) {
      throw new ApiError("conflict", `a tenant holds at most ${API_KEYS_MAX} api keys: revoke one first`);
    }
    const apiKey = newApiKey();
    const now = Date.now();
    const key = await addApiKey(c.env.DB, tenantId, await sha256Hex(apiKey), now, newKeyOptions(input, now));
    await audit(c, "api_key.created", key.id, { label: key.label, expiresAt: key.expiresAt });
    return c.json({ ...key, apiKey }, 201);
  })
  .delete("/:keyId", async (c) => {
    const id = c.req.param("keyId");
    if (!/^key_[0-9a-f]{16}$/.test(id)) throw new ApiError("not_found", "api key not found");
    const result = await revokeApiKey(c.env.DB, tenantOf(c), id, Date.now());
    if (result.status === "not_found") throw new ApiError("not_found", "api key not found");
    if (result.status === "last_key") throw new ApiError("conflict", "this is the tenant's last working api key: create another before revoking it");
    forgetCredential({ keyHash: result.keyHash });
    await audit(c, "api_key.revoked", id);
    return c.body(null, 204);
  });
