import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "./context";
import { requirePrincipal, tenantOf } from "./auth";
import { readQuery } from "./query";
import { EVENT_TYPES, listEvents } from "../storage/events";

export const EVENTS_PAGE_MAX = 500;

const EventsQuery = z.object({
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(EVENTS_PAGE_MAX).default(100),
  type: z.enum(EVENT_TYPES).optional(),
});

/** The tenant's own recent reporting events, oldest first after a cursor: poll with `after=<last id>`. */
export const eventRoutes = new Hono<AppEnv>().use(requirePrincipal("tenant")).get("/", async (c) => {
  const q = readQuery(c, EventsQuery);
  const list = await listEvents(c.env.DB, tenantOf(c), q);
  return c.json({ events: list, nextCursor: list.at(-1)?.id ?? q.after ?? 0 });
});
