import type { Hono, Schema } from "hono";
import type { hc, InferResponseType } from "hono/client";
import type { AppEnv } from "../src/http/context";
import type { ErrorCode } from "../src/protocol/frames";
import type { apiKeyRoutes } from "../src/http/api-keys";
import type { auditRoutes } from "../src/http/audit";
import type { conversationRoutes } from "../src/http/conversations";
import type { eventRoutes } from "../src/http/events";
import type { integrationRoutes } from "../src/http/integrations";
import type { peopleRoutes } from "../src/http/people";
import type { presenceRoutes } from "../src/http/presence";
import type { searchRoutes } from "../src/http/search";
import type { tenantSettingsRoutes } from "../src/http/tenant-settings";
import type { tenantRoutes } from "../src/http/tenants";
import type { tenantQuotaRoutes, usageRoutes } from "../src/http/usage";
import type { userRoutes } from "../src/http/users";
import type { webhookRoutes } from "../src/http/webhooks";

/**
 * Response bodies of the API as its routes declare them (what each handler passes to `c.json`), so a
 * test reads a response with the route's own type: `api<MessagesPage>("GET", ...)`.
 */

/** A route module's endpoints, by path and method (`Endpoints<typeof conversationRoutes>[":id"]["$get"]`). */
type Endpoints<Routes extends Hono<AppEnv, Schema, "/">> = ReturnType<typeof hc<Routes>>;
type Conversations = Endpoints<typeof conversationRoutes>;
type Integrations = Endpoints<typeof integrationRoutes>;
type People = Endpoints<typeof peopleRoutes>;
type Presence = Endpoints<typeof presenceRoutes>;
type Users = Endpoints<typeof userRoutes>;
type Tenants = Endpoints<typeof tenantRoutes>;
type TenantQuotas = Endpoints<typeof tenantQuotaRoutes>;
type Webhooks = Endpoints<typeof webhookRoutes>;
type ApiKeys = Endpoints<typeof apiKeyRoutes>;
type Search = Endpoints<typeof searchRoutes>;

/** The error envelope of API.md. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId?: string };
}

export type TenantCreated = InferResponseType<Tenants["index"]["$post"]>;
export type TenantApiKey = InferResponseType<Tenants[":tenantId"]["api-keys"]["$post"]>;
export type ApiKeyList = InferResponseType<ApiKeys["index"]["$get"]>;
export type ApiKeyCreated = InferResponseType<ApiKeys["index"]["$post"]>;
export type TenantSettings = InferResponseType<Endpoints<typeof tenantSettingsRoutes>["settings"]["$get"]>;
export type Quotas = InferResponseType<TenantQuotas[":tenantId"]["quotas"]["$get"]>;
export type TenantUsage = InferResponseType<TenantQuotas[":tenantId"]["usage"]["$get"]>;
/** GET /v1/usage for the operator: every tenant's totals (a tenant key reads its own, a TenantUsage). */
export type UsageTotals = Exclude<InferResponseType<Endpoints<typeof usageRoutes>["index"]["$get"]>, TenantUsage>;
export type AuditPage = InferResponseType<Endpoints<typeof auditRoutes>["index"]["$get"]>;
export type EventsPage = InferResponseType<Endpoints<typeof eventRoutes>["index"]["$get"]>;

export type User = InferResponseType<Users[":userId"]["$get"]>;
export type IssuedToken = InferResponseType<Users[":userId"]["tokens"]["$post"]>;
export type UserList = InferResponseType<People["index"]["$get"]>;
export type UserSearch = InferResponseType<People["search"]["$get"]>;
export type UserStatusChange = InferResponseType<People[":userId"]["reactivate"]["$post"]>;
export type TokensRevoked = InferResponseType<People[":userId"]["tokens"]["revoke"]["$post"]>;

export type ConversationList = InferResponseType<Conversations["index"]["$get"]>;
export type ConversationCreated = InferResponseType<Conversations["index"]["$post"]>;
export type Conversation = InferResponseType<Conversations[":id"]["$get"]>;
export type MembersChanged = InferResponseType<Conversations[":id"]["members"]["$post"]>;
export type Message = InferResponseType<Conversations[":id"]["messages"]["$post"]>;
export type MessagesPage = InferResponseType<Conversations[":id"]["messages"]["$get"]>;
export type Edits = InferResponseType<Conversations[":id"]["messages"][":seq"]["edits"]["$get"]>;
export type Receipts = InferResponseType<Conversations[":id"]["messages"][":seq"]["receipts"]["$get"]>;
export type Reactions = InferResponseType<Conversations[":id"]["messages"][":seq"]["reactions"][":emoji"]["$put"]>;
export type Decision = InferResponseType<Conversations[":id"]["messages"][":seq"]["decision"]["$post"]>;
export type CardAction = InferResponseType<Conversations[":id"]["messages"][":seq"]["actions"]["$post"]>;
export type AttachmentUrl = InferResponseType<Conversations[":id"]["attachments"][":attachmentId"]["url"]["$get"]>;
export type MuteSetting = InferResponseType<Conversations[":id"]["settings"]["$put"]>;

export type MessageSearch = InferResponseType<Search["messages"]["$get"]>;
export type ConversationSearch = InferResponseType<Search["conversations"]["$get"]>;

export type PresenceMap = InferResponseType<Presence["presence"]["$get"]>;
export type PushConfig = InferResponseType<Presence["push"]["config"]["$get"]>;
export type Device = InferResponseType<Presence["devices"]["$post"]>;
export type DeviceList = InferResponseType<Presence["devices"]["$get"]>;
export type PushTest = InferResponseType<Presence["devices"][":id"]["test"]["$post"]>;
export type PushDeliveries = InferResponseType<Presence["devices"][":id"]["deliveries"]["$get"]>;

export type IntegrationCreated = InferResponseType<Integrations["index"]["$post"]>;
export type IntegrationList = InferResponseType<Integrations["index"]["$get"]>;
export type Integration = InferResponseType<Integrations[":id"]["$get"]>;
export type IntegrationRotated = InferResponseType<Integrations[":id"]["rotate"]["$post"]>;
export type IntegrationDeliveries = InferResponseType<Integrations[":id"]["deliveries"]["$get"]>;

export type EndpointCreated = InferResponseType<Webhooks["index"]["$post"]>;
export type EndpointList = InferResponseType<Webhooks["index"]["$get"]>;
export type EndpointDeliveries = InferResponseType<Webhooks[":id"]["deliveries"]["$get"]>;
