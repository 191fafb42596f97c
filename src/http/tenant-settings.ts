import { Hono } from "hono";
import type { AppEnv } from "./context";
import { requirePrincipal, tenantOf } from "./auth";
import { jsonBody } from "./body";
import { ApiError } from "./errors";
import { audit } from "./audit";
import { settingsOf, TenantSettingsChange, updateSettings } from "../storage/tenant-settings";

/** The calling tenant's own settings (tenant api key). */
export const tenantSettingsRoutes = new Hono<AppEnv>()
  .use(requirePrincipal("tenant"))
  .get("/settings", async (c) => {
    const settings = await settingsOf(c.env.DB, tenantOf(c));
    if (!settings) throw new ApiError("not_found", "tenant not found");
    return c.json(settings);
  })
  .put("/settings", jsonBody(TenantSettingsChange), async (c) => {
    const change = Object.fromEntries(Object.entries(c.req.valid("json")).filter(([, v]) => v !== undefined));
    await updateSettings(c.env.DB, tenantOf(c), change);
    await audit(c, "settings.updated", tenantOf(c), change);
    return c.json(await settingsOf(c.env.DB, tenantOf(c)));
  });
