import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "./context";
import { requirePrincipal, tenantOf } from "./auth";
import { readJson } from "./body";
import { getRetention, setRetention } from "../storage/retention";

/** Longest retention period a tenant may set (days); null keeps history forever. */
export const RETENTION_MAX_DAYS = 36_500;

const Settings = z.object({
  retentionDays: z.number().int().min(1).max(RETENTION_MAX_DAYS).nullable(),
});

/** The calling tenant's own settings (tenant api key). */
export const tenantSettingsRoutes = new Hono<AppEnv>()
  .use(requirePrincipal("tenant"))
  .get("/settings", async (c) => c.json({ retentionDays: await getRetention(c.env.DB, tenantOf(c)) }))
  .put("/settings", async (c) => {
    const input = await readJson(c, Settings);
    await setRetention(c.env.DB, tenantOf(c), input.retentionDays);
    return c.json({ retentionDays: input.retentionDays });
  });
