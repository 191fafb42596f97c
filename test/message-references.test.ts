import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, BASE, createGroup, expectError, join, setupTenant } from "./helpers";
import type { AttachmentUrl, Message, MessagesPage } from "./responses";

const pdf = () => new TextEncoder().encode("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n");

async function upload(token: string, id: string, name = "quote.pdf") {
  const res = await exports.default.fetch(`${BASE}/v1/conversations/${id}/attachments?name=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/pdf" },
    body: pdf(),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; name: string; size: number; contentType: string };
}

const approval = (attachment: unknown) => ({ title: "Discount for ACME", approvers: ["bob"], attachment });

describe("references inside message bodies", () => {
  it("refuses an approval whose attachment is not an upload of the sender in this conversation", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const other = await createGroup(t.tokens.alice!, ["bob"], "Other");
    const elsewhere = await upload(t.tokens.alice!, other);
    const bobs = await upload(t.tokens.bob!, id);
    const madeUp = { id: "att_0123456789abcdef0123456789abcdef", name: "contract.pdf", size: 10, contentType: "application/pdf" };
    for (const attachment of [madeUp, elsewhere, bobs]) {
      const res = await api<Message>("POST", `/v1/conversations/${id}/messages`, { token: t.tokens.alice!, body: { clientId: `a-${attachment.id}`, kind: "approval", body: approval(attachment) } });
      expectError(res, 400, "invalid_request");
      expect(res.body.error.message).toMatch(/^body\.attachment/);
    }
    const { socket } = await join(id, t.tokens.alice!);
    socket.send({ type: "send", clientId: "ws-made-up", kind: "approval", body: approval(madeUp) });
    expect(await socket.next("error")).toMatchObject({ code: "invalid_request", clientId: "ws-made-up" });
    socket.close();
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.alice! });
    expect(history.body.messages).toEqual([]);
  });

  it("takes an approval's attachment facts from the upload, and lets the approver download it", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const up = await upload(t.tokens.alice!, id);
    const res = await api<Message>("POST", `/v1/conversations/${id}/messages`, {
      token: t.tokens.alice!,
      body: { clientId: "a1", kind: "approval", body: approval({ id: up.id, name: "other.exe", size: 1, contentType: "application/x-msdownload" }) },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.body.attachment).toEqual({ id: up.id, name: "quote.pdf", size: up.size, contentType: "application/pdf" });
    const download = await exports.default.fetch(`${BASE}/v1/conversations/${id}/attachments/${up.id}`, { headers: { authorization: `Bearer ${t.tokens.bob!}` } });
    expect(download.status).toBe(200);
    await download.arrayBuffer();
  });

  it("refuses CRM card links that are not http(s)", async () => {
    const t = await setupTenant(["alice"]);
    const id = await createGroup(t.apiKey, ["alice"], "Deals");
    const card = (url: string) => ({ source: "acme", objectType: "lead", objectId: "L1", event: "lead.created", title: "New lead", url });
    for (const url of ["javascript:alert(document.cookie)", "JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox", "file:///etc/passwd", "ftp://crm.acme.io/x", "https://", "not a url"]) {
      const res = await api<Message>("POST", `/v1/conversations/${id}/messages`, { token: t.apiKey, body: { clientId: `c-${url}`, kind: "crm", body: card(url) } });
      expectError(res, 400, "invalid_request");
      expect(res.body.error.message).toMatch(/^body\.url/);
    }
    const ok = await api<Message>("POST", `/v1/conversations/${id}/messages`, { token: t.apiKey, body: { clientId: "c-ok", kind: "crm", body: card("https://crm.acme.io/leads/L1") } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.body.url).toBe("https://crm.acme.io/leads/L1");
  });

  it("stops a signed download link working once its holder has left the conversation", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    const up = await upload(t.tokens.alice!, id);
    const sent = await api<Message>("POST", `/v1/conversations/${id}/messages`, { token: t.tokens.alice!, body: { clientId: "f1", kind: "file", body: { attachment: up } } });
    expect(sent.status).toBe(201);
    const link = await api<AttachmentUrl>("GET", `/v1/conversations/${id}/attachments/${up.id}/url`, { token: t.tokens.bob! });
    expect(link.status).toBe(200);
    const path = new URL(link.body.url as string).pathname;
    const before = await exports.default.fetch(`${BASE}${path}`);
    expect(before.status).toBe(200);
    await before.arrayBuffer();
    expect((await api("DELETE", `/v1/conversations/${id}/members/bob`, { token: t.tokens.alice! })).status).toBe(204);
    const after = await exports.default.fetch(`${BASE}${path}`);
    expect(after.status).toBe(404);
    expect(((await after.json()) as { error: { code: string } }).error.code).toBe("not_found");
    // Alice's own link keeps working.
    const hers = await api<AttachmentUrl>("GET", `/v1/conversations/${id}/attachments/${up.id}/url`, { token: t.tokens.alice! });
    const mine = await exports.default.fetch(`${BASE}${new URL(hers.body.url as string).pathname}`);
    expect(mine.status).toBe(200);
    await mine.arrayBuffer();
  });
});
