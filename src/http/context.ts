import type { Context } from "hono";

/** Who a request comes from, established by the auth middleware from a verified credential. */
export type Principal =
  | { kind: "operator" }
  | { kind: "tenant"; tenantId: string }
  | { kind: "user"; tenantId: string; userId: string };

export type PrincipalKind = Principal["kind"];

export interface AppEnv {
  Bindings: Env;
  Variables: { requestId: string; principal: Principal };
}

export type AppContext = Context<AppEnv>;
