import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { routePath } from "hono/route";
import type { AppEnv, Principal } from "./context";
import { logLine } from "../log";

/**
 * One reporting-log line per HTTP request: request id, tenant, who acted, the route pattern (never the
 * raw path: it can carry ids a tenant considers private), status, duration and bytes. An accepted
 * WebSocket upgrade is reported once, by the `socket.closed` line its object writes when it ends (with
 * this request id): a tenant's devices reconnecting at once then cost no line each on the way in.
 */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now();
  try {
    await next();
  } finally {
    if (c.res.status !== 101) writeLine(c, started);
  }
});

function writeLine(c: Context<AppEnv>, started: number): void {
  // Unset when the request was refused before authentication.
  const principal: Principal | undefined = c.get("principal");
  const cf = c.req.raw.cf;
  const country = cf && "country" in cf ? cf.country : undefined;
  logLine("request", {
    requestId: c.get("requestId"),
    method: c.req.method,
    route: routePath(c, -1) || "unmatched",
    status: c.res.status,
    durationMs: Date.now() - started,
    bytesIn: Number(c.req.header("content-length") ?? 0) || 0,
    bytesOut: Number(c.res.headers.get("content-length") ?? 0) || 0,
    actorKind: principal?.kind ?? "anonymous",
    tenantId: principal && principal.kind !== "operator" ? principal.tenantId : undefined,
    actorId: principal?.kind === "user" ? principal.userId : principal?.kind === "tenant" ? "tenant-key" : undefined,
    country: typeof country === "string" ? country : undefined,
    upgrade: c.req.header("upgrade")?.toLowerCase() === "websocket" ? true : undefined,
  });
}
