import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, BASE, createGroup, expectError, setupTenant } from "./helpers";
import { roomName } from "../src/protocol/ids";
import { imageSize, sniff } from "../src/domain/files";
import type { AttachmentUrl, Message } from "./responses";

/** A 3x2 PNG header (signature + IHDR) followed by padding: enough for sniffing and sizing. */
function png(width = 3, height = 2): Uint8Array {
  const b = new Uint8Array(64);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(b.buffer).setUint32(16, width);
  new DataView(b.buffer).setUint32(20, height);
  return b;
}
const pdf = () => new TextEncoder().encode("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n");

async function upload(token: string, id: string, bytes: Uint8Array, contentType: string, name = "file.bin") {
  const res = await exports.default.fetch(`${BASE}/v1/conversations/${id}/attachments?name=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": contentType },
    body: bytes,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

describe("attachments", () => {
  it("uploads an image, sends it with its real size and dimensions, and lets members download it", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const up = await upload(t.tokens.alice!, id, png(640, 480), "image/png", "chart.png");
    expect(up.status).toBe(201);
    expect(up.body).toMatchObject({ name: "chart.png", size: 64, contentType: "image/png", width: 640, height: 480 });
    const sent = await api<Message>("POST", `/v1/conversations/${id}/messages`, {
      token: t.tokens.alice!,
      // The client's claims about size and type are replaced by what the upload measured.
      body: { clientId: "img", kind: "image", body: { attachment: { id: up.body.id, name: "chart.png", size: 1, contentType: "image/gif" } } },
    });
    expect(sent.status).toBe(201);
    expect(sent.body.body).toEqual({ attachment: { id: up.body.id, name: "chart.png", size: 64, contentType: "image/png" }, width: 640, height: 480 });
    const download = await exports.default.fetch(`${BASE}/v1/conversations/${id}/attachments/${up.body.id}`, { headers: { authorization: `Bearer ${t.tokens.bob}` } });
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("image/png");
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(png(640, 480));
    const link = await api<AttachmentUrl>("GET", `/v1/conversations/${id}/attachments/${up.body.id}/url`, { token: t.tokens.bob! });
    const viaLink = await exports.default.fetch(link.body.url);
    expect(viaLink.status).toBe(200);
    await viaLink.arrayBuffer();
    const tampered = await exports.default.fetch(`${link.body.url.slice(0, -2)}xx`);
    expect(tampered.status).toBe(401);
  });

  it("judges the type by the bytes, not by the header, and enforces the tenant's limits", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    expectError(await upload(t.tokens.alice!, id, pdf(), "image/png"), 400, "invalid_request");
    expectError(await upload(t.tokens.alice!, id, png(), "application/x-msdownload"), 400, "invalid_request");
    expectError(await upload(t.tokens.alice!, id, new Uint8Array([0x4d, 0x5a, 0, 0, 0, 0]), "text/plain"), 400, "invalid_request");
    expectError(await upload(t.tokens.alice!, id, new Uint8Array(), "text/plain"), 400, "invalid_request");
    expect((await upload(t.tokens.alice!, id, pdf(), "application/pdf", "q.pdf")).status).toBe(201);
    await api("PUT", "/v1/tenant/settings", { token: t.apiKey, body: { attachmentMaxBytes: 32, attachmentTypes: ["image/png"] } });
    expectError(await upload(t.tokens.alice!, id, png(), "image/png"), 413, "too_large");
    expectError(await upload(t.tokens.alice!, id, pdf().subarray(0, 20), "application/pdf"), 400, "invalid_request");
    const noName = await exports.default.fetch(`${BASE}/v1/conversations/${id}/attachments`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.tokens.alice}`, "content-type": "image/png" },
      body: png(),
    });
    expect(noName.status).toBe(400);
    await noName.arrayBuffer();
  });

  it("refuses uploads from non-members and downloads across tenants", async () => {
    const a = await setupTenant(["alice", "bob", "carol"]);
    const b = await setupTenant(["alice", "bob"]);
    const id = await createGroup(a.tokens.alice!, ["bob"]);
    expectError(await upload(a.tokens.carol!, id, png(), "image/png"), 404, "not_found");
    const up = await upload(a.tokens.alice!, id, png(), "image/png");
    await api("POST", `/v1/conversations/${id}/messages`, { token: a.tokens.alice!, body: { clientId: "x", kind: "image", body: { attachment: { id: up.body.id, name: "x", size: 1, contentType: "image/png" } } } });
    for (const token of [b.tokens.alice!, b.tokens.bob!, a.tokens.carol!]) {
      const res = await exports.default.fetch(`${BASE}/v1/conversations/${id}/attachments/${up.body.id}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(404);
      await res.arrayBuffer();
    }
    // Someone else's unsent upload cannot be sent or downloaded by another member.
    const mine = await upload(a.tokens.alice!, id, png(), "image/png");
    expectError(
      await api("POST", `/v1/conversations/${id}/messages`, { token: a.tokens.bob!, body: { clientId: "steal", kind: "image", body: { attachment: { id: mine.body.id, name: "x", size: 1, contentType: "image/png" } } } }),
      400,
      "invalid_request",
    );
    const peek = await exports.default.fetch(`${BASE}/v1/conversations/${id}/attachments/${mine.body.id}`, { headers: { authorization: `Bearer ${a.tokens.bob}` } });
    expect(peek.status).toBe(404);
    await peek.arrayBuffer();
  });

  it("deletes uploads that were never sent after a day, and the bytes of recalled files", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const orphan = await upload(t.tokens.alice!, id, pdf(), "application/pdf", "o.pdf");
    const kept = await upload(t.tokens.alice!, id, pdf(), "application/pdf", "k.pdf");
    await api("POST", `/v1/conversations/${id}/messages`, { token: t.tokens.alice!, body: { clientId: "k", kind: "file", body: { attachment: { id: kept.body.id, name: "k.pdf", size: 1, contentType: "application/pdf" } } } });
    const stub = env.ROOMS.getByName(roomName(t.tenantId, id));
    await runInDurableObject(stub, (_i, ctx) => {
      ctx.storage.sql.exec("UPDATE attachments SET created_at = created_at - 25 * 3600 * 1000");
    });
    await runDurableObjectAlarm(stub);
    expect(await env.FILES.head(`${t.tenantId}/${id}/${orphan.body.id}`)).toBeNull();
    expect(await env.FILES.head(`${t.tenantId}/${id}/${kept.body.id}`)).not.toBeNull();
    await api("POST", `/v1/conversations/${id}/messages/1/recall`, { token: t.tokens.alice! });
    // The deletion is an outbox effect: the object's alarm carries it out.
    await runDurableObjectAlarm(stub);
    expect(await env.FILES.head(`${t.tenantId}/${id}/${kept.body.id}`)).toBeNull();
  });
});

describe("file sniffing", () => {
  it("recognises formats by their magic bytes and reads image sizes", () => {
    expect(sniff(png())).toBe("image/png");
    expect(sniff(pdf())).toBe("application/pdf");
    expect(sniff(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1]))).toBe("zip");
    expect(sniff(new TextEncoder().encode("name,amount\nACME,10\n"))).toBe("text");
    expect(sniff(new Uint8Array([0x4d, 0x5a, 0x90, 0]))).toBeUndefined();
    const gif = new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 10, 0, 20, 0, 0, 0, 0]);
    expect(imageSize(gif, "image/gif")).toEqual({ width: 10, height: 20 });
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xc0, 0, 11, 8, 0, 50, 0, 100, 3, 0, 0, 0, 0]);
    expect(imageSize(jpeg, "image/jpeg")).toEqual({ width: 100, height: 50 });
  });
});
