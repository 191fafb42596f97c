import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { roomName } from "../src/protocol/ids";
import { describe, expect, it } from "vitest";
import { ADMIN, api, BASE, createGroup, eventually, expectError, join, openChannel, sendHttp, setupTenant } from "./helpers";
import type { AuditPage, ConversationList, Message, MessagesPage, Quotas, TenantUsage, UsageTotals, User } from "./responses";

const today = () => new Date().toISOString().slice(0, 10);

function png(): Uint8Array {
  const b = new Uint8Array(64);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(b.buffer).setUint32(16, 3);
  new DataView(b.buffer).setUint32(20, 2);
  return b;
}

async function upload(token: string, id: string) {
  const res = await exports.default.fetch(`${BASE}/v1/conversations/${id}/attachments?name=a.png`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "image/png" },
    body: png(),
  });
  return { status: res.status, body: (await res.json()) as { id?: string; error?: { code: string; message: string } } };
}

describe("quotas", () => {
  it("are set by the operator only, validated, audited, and shown to the tenant", async () => {
    const t = await setupTenant(["alice"]);
    expectError(await api("PUT", `/v1/tenants/${t.tenantId}/quotas`, { token: t.apiKey, body: { users: 1 } }), 403, "forbidden");
    expectError(await api("PUT", `/v1/tenants/${t.tenantId}/quotas`, { token: ADMIN, body: { users: -1 } }), 400, "invalid_request");
    expectError(await api("PUT", "/v1/tenants/no-such-tenant/quotas", { token: ADMIN, body: { users: 1 } }), 404, "not_found");
    const set = await api<Quotas>("PUT", `/v1/tenants/${t.tenantId}/quotas`, { token: ADMIN, body: { users: 5, messagesPerDay: 1000 } });
    expect(set.body).toEqual({ users: 5, attachmentBytes: null, messagesPerDay: 1000, openSockets: null });
    const cleared = await api<Quotas>("PUT", `/v1/tenants/${t.tenantId}/quotas`, { token: ADMIN, body: { messagesPerDay: null } });
    expect(cleared.body).toMatchObject({ users: 5, messagesPerDay: null });
    expect((await api<TenantUsage>("GET", "/v1/usage", { token: t.apiKey })).body.quotas).toMatchObject({ users: 5 });
    const trail = await api<AuditPage>("GET", "/v1/audit?action=quota.updated", { token: t.apiKey });
    expect(trail.body.entries).toHaveLength(2);
    expect(trail.body.entries[0]).toMatchObject({ actor: { kind: "operator" }, details: { messagesPerDay: null } });
  });

  it("refuse a new person over the users quota with quota_exceeded, and nothing is stored", async () => {
    const t = await setupTenant(["alice", "bob"]);
    await api("PUT", `/v1/tenants/${t.tenantId}/quotas`, { token: ADMIN, body: { users: 2 } });
    const refused = await api<User>("PUT", "/v1/users/carol", { token: t.apiKey, body: { name: "Carol" } });
    expectError(refused, 403, "quota_exceeded");
    expect(refused.body.error.message).toContain("users");
    expectError(await api("GET", "/v1/users/carol", { token: t.apiKey }), 404, "not_found");
    // People already there may still be updated; deactivating one makes room.
    expect((await api("PUT", "/v1/users/bob", { token: t.apiKey, body: { name: "Robert" } })).status).toBe(200);
    await api("DELETE", "/v1/users/bob", { token: t.apiKey });
    expect((await api("PUT", "/v1/users/carol", { token: t.apiKey, body: { name: "Carol" } })).status).toBe(200);
  });

  it("refuse an upload over the attachment storage quota before storing anything", async () => {
    const t = await setupTenant(["alice"]);
    const id = await createGroup(t.tokens.alice!, []);
    await api("PUT", `/v1/tenants/${t.tenantId}/quotas`, { token: ADMIN, body: { attachmentBytes: 100 } });
    expect((await upload(t.tokens.alice!, id)).status).toBe(201);
    const refused = await upload(t.tokens.alice!, id);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: "quota_exceeded" });
    expect(refused.body.error?.message).toContain("attachmentBytes");
    const usage = await api<TenantUsage>("GET", "/v1/usage", { token: t.apiKey });
    expect(usage.body.attachmentBytesStored).toBe(64);
    expect(usage.body.days.find((d) => d.day === today())).toMatchObject({ attachmentBytesUploaded: 64 });
  });
});

describe("attachment storage usage", () => {
  it("gives the bytes of a recalled picture back once they are deleted", async () => {
    const t = await setupTenant(["alice"]);
    const id = await createGroup(t.tokens.alice!, []);
    const up = await upload(t.tokens.alice!, id);
    const sent = await api<Message>("POST", `/v1/conversations/${id}/messages`, {
      token: t.tokens.alice!,
      body: { clientId: "pic", kind: "image", body: { attachment: { id: up.body.id, name: "a.png", size: 64, contentType: "image/png" } } },
    });
    expect((await api<TenantUsage>("GET", "/v1/usage", { token: t.apiKey })).body.attachmentBytesStored).toBe(64);
    expect((await api("POST", `/v1/conversations/${id}/messages/${sent.body.seq}/recall`, { token: t.tokens.alice! })).status).toBe(200);
    await runDurableObjectAlarm(env.ROOMS.getByName(roomName(t.tenantId, id)));
    expect((await api<TenantUsage>("GET", "/v1/usage", { token: t.apiKey })).body.attachmentBytesStored).toBe(0);
  });
});

describe("the messages-per-day quota", () => {
  it("refuses new messages once the day's are used up, over HTTP and the socket, but re-acks retries", async () => {
    const t = await setupTenant(["alice", "bob"]);
    await api("PUT", `/v1/tenants/${t.tenantId}/quotas`, { token: ADMIN, body: { messagesPerDay: 3 } });
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const bob = await join(id, t.tokens.bob!);
    for (const n of [1, 2, 3]) expect((await sendHttp(t.tokens.alice!, id, `m${n}`, `message ${n}`)).status).toBe(201);
    const refused = await sendHttp(t.tokens.alice!, id, "m4", "one too many");
    expectError(refused, 403, "quota_exceeded");
    expect(refused.body.error.message).toContain("messagesPerDay");
    // A retry of a stored message is answered as before: nothing is lost to the quota.
    expect((await sendHttp(t.tokens.alice!, id, "m2", "message 2")).status).toBe(200);
    bob.socket.send({ type: "send", clientId: "b1", kind: "text", body: { text: "me too" } });
    expect(await bob.socket.next("error")).toMatchObject({ code: "quota_exceeded", clientId: "b1" });
    bob.socket.close();
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages?after=0`, { token: t.tokens.alice! });
    expect(history.body.messages.filter((m: { kind: string }) => m.kind === "text")).toHaveLength(3);
    const usage = await api<TenantUsage>("GET", "/v1/usage", { token: t.apiKey });
    expect(usage.body.days.find((d) => d.day === today())).toMatchObject({ messages: 3 });
    expect(usage.body.days.find((d) => d.day === today())?.deliveries).toBeGreaterThanOrEqual(3);
  });
});

describe("the open-sockets quota", () => {
  it("refuses a device channel over the tenant's share on its presence shard, and usage keeps the day's peak", async () => {
    const t = await setupTenant(["alice"]);
    // The suite runs three presence shards: a quota of 3 leaves each shard one channel.
    await api("PUT", `/v1/tenants/${t.tenantId}/quotas`, { token: ADMIN, body: { openSockets: 3 } });
    const phone = await openChannel(t.tokens.alice!, "phone");
    const refused = await exports.default.fetch(`${BASE}/v1/ws?token=${encodeURIComponent(t.tokens.alice!)}&device=laptop`, { headers: { Upgrade: "websocket" } });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("quota_exceeded");
    await eventually(async () => {
      const usage = await api<TenantUsage>("GET", "/v1/usage", { token: t.apiKey });
      expect(usage.body.days.find((d) => d.day === today())).toMatchObject({ openSocketsPeak: 1 });
    });
    phone.close();
  });
});

describe("usage", () => {
  it("counts a tenant's active people per day and shows a tenant only its own", async () => {
    const t = await setupTenant(["alice", "bob", "carol"]);
    const other = await setupTenant(["zed"]);
    for (const token of [t.tokens.alice!, t.tokens.bob!, t.tokens.bob!]) await api<ConversationList>("GET", "/v1/conversations", { token });
    await api("GET", "/v1/conversations", { token: other.tokens.zed! });
    // Activity is recorded after the answer (waitUntil), so it is awaited here rather than assumed.
    const usage = await eventually(async () => {
      const res = await api<TenantUsage>("GET", `/v1/usage?from=${today()}&to=${today()}`, { token: t.apiKey });
      expect(res.body.days).toEqual([expect.objectContaining({ day: today(), activeUsers: 2 })]);
      return res;
    });
    expect(usage.body).toMatchObject({ tenantId: t.tenantId, from: today(), to: today() });
    const operator = await api<UsageTotals>("GET", "/v1/usage", { token: ADMIN });
    expect(operator.status).toBe(200);
    await eventually(async () => {
      const perTenant = await api<TenantUsage>("GET", `/v1/tenants/${other.tenantId}/usage`, { token: ADMIN });
      expect(perTenant.body.days).toEqual([expect.objectContaining({ activeUsers: 1 })]);
    });
  });

  it("validates its date range", async () => {
    const t = await setupTenant([]);
    expectError(await api("GET", "/v1/usage?from=2026-13-01", { token: t.apiKey }), 400, "invalid_request");
    expectError(await api("GET", "/v1/usage?from=2026-02-01&to=2026-01-01", { token: t.apiKey }), 400, "invalid_request");
    expectError(await api("GET", "/v1/usage?from=2025-01-01&to=2026-01-01", { token: t.apiKey }), 400, "invalid_request");
  });
});
