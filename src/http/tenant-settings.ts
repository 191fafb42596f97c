import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "./context";
import { requirePrincipal, tenantOf } from "./auth";
import { jsonBody } from "./body";
import { ApiError } from "./errors";
import { audit } from "./audit";
import { getTenantSettings, updateTenantSettings } from "../storage/retention";
import { ATTACHMENT_HARD_MAX_BYTES } from "./attachments";
import { SUPPORTED_TYPES } from "../domain/files";

/** Longest retention period a tenant may set (days); null keeps history forever. */
export const RETENTION_MAX_DAYS = 36_500;
/** Longest time reporting events are kept (days). */
export const EVENT_RETENTION_MAX_DAYS = 90;
/** Longest edit or recall window (seconds): 30 days. */
export const WINDOW_MAX_SECONDS = 30 * 86_400;

const Settings = z.object({
  retentionDays: z.number().int().min(1).max(RETENTION_MAX_DAYS).nullable().optional(),
  editWindowSeconds: z.number().int().min(0).max(WINDOW_MAX_SECONDS).optional(),
  recallWindowSeconds: z.number().int().min(0).max(WINDOW_MAX_SECONDS).optional(),
  attachmentMaxBytes: z.number().int().min(1).max(ATTACHMENT_HARD_MAX_BYTES).optional(),
  attachmentTypes: z.array(z.enum(SUPPORTED_TYPES)).min(1).max(SUPPORTED_TYPES.length).nullable().optional(),
  eventRetentionDays: z.number().int().min(1).max(EVENT_RETENTION_MAX_DAYS).optional(),
});

/** The calling tenant's own settings (tenant api key). */
export const tenantSettingsRoutes = new Hono<AppEnv>()
  .use(requirePrincipal("tenant"))
  .get("/settings", async (c) => {
    const settings = await getTenantSettings(c.env.DB, tenantOf(c));
    if (!settings) throw new ApiError("not_found", "tenant not found");
    return c.json(settings);
  })
  .put("/settings", jsonBody(Settings), async (c) => {
    const input = c.req.valid("json");
    const change = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
    await updateTenantSettings(c.env.DB, tenantOf(c), change);
    await audit(c, "settings.updated", tenantOf(c), change);
    return c.json(await getTenantSettings(c.env.DB, tenantOf(c)));
  });
