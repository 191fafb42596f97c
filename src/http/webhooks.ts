import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "./context";
import { requirePrincipal, tenantOf } from "./auth";
import { jsonBody } from "./body";
import { ApiError } from "./errors";
import { audit } from "./audit";
import { newStandardSecret } from "../crm/adapters";
import { seal } from "../auth/sealing";
import { randomHex } from "../lib/random";
import { checkOutboundUrl } from "../net/url-safety";
import { ConversationId } from "../protocol/ids";
import { deleteEndpoint, endpointDeliveriesOf, endpointsOf, insertEndpoint, OUTBOUND_EVENT_TYPES, type EndpointRow } from "../storage/endpoints";

/** Most outbound endpoints per tenant. */
export const ENDPOINTS_PER_TENANT = 20;

const CreateEndpoint = z.object({
  url: z.string().min(1).max(2048),
  events: z.array(z.enum(OUTBOUND_EVENT_TYPES)).min(1).max(OUTBOUND_EVENT_TYPES.length),
  /** Limit message.created (and card and approval events) to these conversations; all when left out. */
  conversationIds: z.array(ConversationId).min(1).max(100).optional(),
});

const view = (e: EndpointRow) => ({ id: e.id, url: e.url, events: e.events, conversationIds: e.conversationIds, createdAt: e.createdAt });

/** Outbound event endpoints of the calling tenant (tenant api key). */
export const webhookRoutes = new Hono<AppEnv>()
  .use(requirePrincipal("tenant"))
  .post("/", jsonBody(CreateEndpoint), async (c) => {
    const input = c.req.valid("json");
    const allowed = checkOutboundUrl(input.url, c.env.ENVIRONMENT);
    if (!allowed.ok) throw new ApiError("invalid_request", `url: ${allowed.reason}`);
    const tenantId = tenantOf(c);
    if ((await endpointsOf(c.env.DB, tenantId)).length >= ENDPOINTS_PER_TENANT) {
      throw new ApiError("conflict", `a tenant has at most ${ENDPOINTS_PER_TENANT} endpoints`);
    }
    const secret = newStandardSecret();
    const row: EndpointRow = {
      id: `ep_${randomHex(16)}`,
      tenantId,
      url: input.url,
      secretCiphertext: await seal(c.env.TOKEN_SIGNING_KEY, secret),
      events: [...new Set(input.events)],
      conversationIds: input.conversationIds ?? null,
      createdAt: Date.now(),
    };
    await insertEndpoint(c.env.DB, row);
    await audit(c, "endpoint.created", row.id, { url: row.url, events: row.events, conversationIds: row.conversationIds });
    return c.json({ ...view(row), secret }, 201);
  })
  .get("/", async (c) => c.json({ endpoints: (await endpointsOf(c.env.DB, tenantOf(c))).map(view) }))
  .delete("/:id", async (c) => {
    if (!(await deleteEndpoint(c.env.DB, tenantOf(c), c.req.param("id")))) throw new ApiError("not_found", "endpoint not found");
    await audit(c, "endpoint.deleted", c.req.param("id"));
    return c.body(null, 204);
  })
  .get("/:id/deliveries", async (c) => {
    const tenantId = tenantOf(c);
    const id = c.req.param("id");
    if (!(await endpointsOf(c.env.DB, tenantId)).some((e) => e.id === id)) throw new ApiError("not_found", "endpoint not found");
    const deliveries = await endpointDeliveriesOf(c.env.DB, tenantId, id);
    return c.json({ deliveries: deliveries.map(({ tenantId: _t, endpointId: _e, ...rest }) => rest) });
  });
