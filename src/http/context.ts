import type { Context } from "hono";
import type { Tenant } from "../storage/tenants";
import type { IntegrationRow } from "../storage/integrations";

/** Who a request comes from, established by the auth middleware from a verified credential. */
export type Principal =
  | { kind: "operator" }
  | { kind: "tenant"; tenantId: string }
  | { kind: "user"; tenantId: string; userId: string };

export type PrincipalKind = Principal["kind"];

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    principal: Principal;
    /** What a route's lookup middleware found (`knownTenant`, `knownIntegration`), for the handlers after it. */
    tenant: Tenant;
    integration: IntegrationRow;
  };
}

export type AppContext = Context<AppEnv>;
