import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { messagesQuotaStatement, recordSocketsPeak, usageBatchStatements, usageByDay } from "../src/storage/usage";
import { DEFAULT_SETTINGS, effectiveSettings } from "../src/storage/tenant-settings";
import { ADMIN, api, setupTenant, uniqueId } from "./helpers";

const day = () => new Date().toISOString().slice(0, 10);

/** One flush's metering, as a conversation's mirror flush sends it: counters first, then the quota read. */
async function meteredFlush(tenantId: string, counts: { messages?: number; deliveries?: number }) {
  const now = Date.now();
  const results = await env.DB.batch([...usageBatchStatements(env.DB, tenantId, now, counts), messagesQuotaStatement(env.DB, tenantId, now)]);
  return messagesQuotaStatement.row(results.at(-1));
}

describe("what the meters store", () => {
  it("adds a flush's messages and deliveries to the day and reads the messages quota back in the same batch", async () => {
    const t = await setupTenant([]);
    expect(await meteredFlush(t.tenantId, { messages: 2, deliveries: 3 })).toEqual({ limit: null, used: 2 });
    expect((await api("PUT", `/v1/tenants/${t.tenantId}/quotas`, { token: ADMIN, body: { messagesPerDay: 10 } })).status).toBe(200);
    expect(await meteredFlush(t.tenantId, { messages: 1, deliveries: 0 })).toEqual({ limit: 10, used: 3 });
    const [today] = await usageByDay(env.DB, t.tenantId, day(), day());
    expect(today).toMatchObject({ messages: 3, deliveries: 3 });
  });

  it("keeps each presence shard's highest count of the day, and the tenant's peak is their sum", async () => {
    const t = await setupTenant([]);
    const now = Date.now();
    await recordSocketsPeak(env.DB, t.tenantId, 0, now, 5);
    await recordSocketsPeak(env.DB, t.tenantId, 0, now, 3);
    await recordSocketsPeak(env.DB, t.tenantId, 1, now, 2);
    expect((await usageByDay(env.DB, t.tenantId, day(), day()))[0]?.openSocketsPeak).toBe(7);
  });

  it("reads a tenant's settings as they apply, the defaults for a tenant that is gone", async () => {
    const t = await setupTenant([]);
    expect(await effectiveSettings(env.DB, t.tenantId)).toEqual(DEFAULT_SETTINGS);
    expect((await api("PUT", "/v1/tenant/settings", { token: t.apiKey, body: { editWindowSeconds: 60, attachmentTypes: ["image/png"] } })).status).toBe(200);
    expect(await effectiveSettings(env.DB, t.tenantId)).toEqual({ ...DEFAULT_SETTINGS, editWindowSeconds: 60, attachmentTypes: ["image/png"] });
    expect(await effectiveSettings(env.DB, uniqueId("gone"))).toEqual(DEFAULT_SETTINGS);
  });
});
