import { Hono } from "hono";
import { requestId } from "hono/request-id";
import type { AppEnv } from "./context";
import { ApiError, errorBody, STATUS_OF } from "./errors";
import { tenantRoutes } from "./tenants";
import { userRoutes } from "./users";
import { conversationRoutes } from "./conversations";
import { presenceRoutes } from "./presence";
import { searchRoutes } from "./search";
import { tenantSettingsRoutes } from "./tenant-settings";
import { fileRoutes } from "./attachments";
import { integrationRoutes } from "./integrations";
import { hookRoutes } from "./hooks";
import { webhookRoutes } from "./webhooks";
import { requestLog } from "./request-log";
import { peopleRoutes } from "./people";
import { apiKeyRoutes } from "./api-keys";
import { auditRoutes } from "./audit";
import { eventRoutes } from "./events";
import { tenantQuotaRoutes, usageRoutes } from "./usage";
import { wellFormedPath } from "./paths";

/** The HTTP surface: thin routes that authenticate, validate, pick the Durable Object and forward. */
export function createApp() {
  const app = new Hono<AppEnv>();
  app.use(requestId({ limitLength: 64 }));
  app.use(requestLog);
  app.use(wellFormedPath);
  app.get("/health", (c) => c.json({ ok: true }));
  app.route("/v1/tenants", tenantRoutes);
  app.route("/v1/tenants", tenantQuotaRoutes);
  // People administration first: `/v1/users/search` must not be read as a user id.
  app.route("/v1/users", peopleRoutes);
  app.route("/v1/users", userRoutes);
  app.route("/v1/api-keys", apiKeyRoutes);
  app.route("/v1/audit", auditRoutes);
  app.route("/v1/events", eventRoutes);
  app.route("/v1/usage", usageRoutes);
  app.route("/v1/conversations", conversationRoutes);
  app.route("/v1/search", searchRoutes);
  app.route("/v1/tenant", tenantSettingsRoutes);
  app.route("/v1/files", fileRoutes);
  app.route("/v1/integrations", integrationRoutes);
  app.route("/v1/hooks", hookRoutes);
  app.route("/v1/webhooks", webhookRoutes);
  app.route("/v1", presenceRoutes);

  app.notFound((c) => c.json(errorBody("not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`, c.get("requestId")), 404));
  app.onError((err, c) => {
    const id = c.get("requestId");
    if (err instanceof ApiError) {
      if (err.retryAfterSeconds !== undefined) c.header("Retry-After", String(err.retryAfterSeconds));
      return c.json(errorBody(err.code, err.message, id), STATUS_OF[err.code]);
    }
    console.error(`request ${id} failed`, err);
    return c.json(errorBody("internal_error", "internal error", id), 500);
  });
  return app;
}
