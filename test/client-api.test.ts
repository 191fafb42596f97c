import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DeviceChannel, SwitchboardApi, SwitchboardError, UpgradeRefusedError, type WebSocketLike } from "../src/client/index";
import { BASE, createGroup, sendHttp, setupTenant } from "./helpers";

/** The SDK's HTTP client and device channel against the real Worker, its Durable Objects and D1. */

const workerFetch = ((input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(input instanceof URL ? input.toString() : input, init)) as typeof fetch;

function apiAs(token: string): SwitchboardApi {
  return new SwitchboardApi({ baseUrl: BASE, token, fetch: workerFetch });
}

/** Upgrades through the Worker's fetch handler (workerd cannot dial a socket by URL). */
async function connectThroughWorker(url: string): Promise<WebSocketLike> {
  const res = await exports.default.fetch(url.replace(/^ws/, "http"), { headers: { Upgrade: "websocket" } });
  if (res.status !== 101 || !res.webSocket) throw new UpgradeRefusedError(res.status);
  res.webSocket.accept();
  return res.webSocket as unknown as WebSocketLike;
}

function next<T>(subscribe: (listener: (value: T) => void) => () => void): Promise<T> {
  return new Promise((resolve) => {
    const off = subscribe((value) => {
      off();
      resolve(value);
    });
  });
}

describe("SwitchboardApi", () => {
  it("lists conversations and pages history as the signed-in user", async () => {
    const { tokens } = await setupTenant();
    const id = await createGroup(tokens.alice!, ["bob"], "Deals");
    for (let i = 1; i <= 3; i++) await sendHttp(tokens.bob!, id, `c${i}`, `message ${i}`);
    const alice = apiAs(tokens.alice!);
    const { conversations } = await alice.listConversations();
    expect(conversations.map((c) => [c.id, c.name, c.unread])).toEqual([[id, "Deals", 3]]);
    const { messages } = await alice.history(id, { before: 3, limit: 1 });
    expect(messages.map((m) => m.body.text)).toEqual(["message 2"]);
    await alice.markRead(id, 3);
    expect((await alice.conversation(id)).unread).toBe(0);
  });

  it("reacts, edits and recalls, and reads receipts", async () => {
    const { tokens } = await setupTenant();
    const id = await createGroup(tokens.alice!, ["bob", "carol"]);
    const sent = await apiAs(tokens.alice!).send(id, "text", { text: "draft" }, "d1");
    const bob = apiAs(tokens.bob!);
    expect((await bob.react(id, sent.seq, "👍")).reactions).toEqual({ "👍": ["bob"] });
    expect((await bob.react(id, sent.seq, "👍", true)).reactions).toEqual({});
    const edited = await apiAs(tokens.alice!).edit(id, sent.seq, { text: "final" });
    expect([edited.body.text, typeof edited.editedAt]).toEqual(["final", "number"]);
    await bob.markRead(id, sent.seq);
    expect(await apiAs(tokens.alice!).receipts(id, sent.seq)).toEqual({ seq: sent.seq, readBy: ["bob"], count: 1, of: 2 });
    expect((await apiAs(tokens.alice!).recall(id, sent.seq)).recalled).toBe(true);
  });

  it("turns a refusal into a SwitchboardError with the server's code and words", async () => {
    const { tokens } = await setupTenant();
    const id = await createGroup(tokens.alice!, ["bob"]);
    const sent = await apiAs(tokens.alice!).send(id, "text", { text: "mine" }, "m1");
    const refused = await apiAs(tokens.bob!).edit(id, sent.seq, { text: "not yours" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SwitchboardError);
    expect(refused).toMatchObject({ code: "forbidden", status: 403 });
    expect((refused as Error).message).not.toBe("");
    const expired = await new SwitchboardApi({ baseUrl: BASE, token: "not-a-token", fetch: workerFetch }).listConversations().catch((e: unknown) => e);
    expect(expired).toMatchObject({ code: "unauthorized", status: 401 });
  });

  it("uploads a picture, sends it, and links to it without a bearer", async () => {
    const { tokens } = await setupTenant();
    const id = await createGroup(tokens.alice!, ["bob"]);
    const png = Uint8Array.from(atob("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="), (c) => c.charCodeAt(0));
    const alice = apiAs(tokens.alice!);
    const uploaded = await alice.upload(id, new Blob([png], { type: "image/png" }), "dot.png");
    expect(uploaded).toMatchObject({ name: "dot.png", contentType: "image/png", width: 2, height: 2 });
    await alice.send(id, "image", { attachment: uploaded }, "img-1");
    const { url } = await apiAs(tokens.bob!).attachmentUrl(id, uploaded.id);
    const bytes = await (await exports.default.fetch(new URL(url, BASE).toString())).arrayBuffer();
    expect(new Uint8Array(bytes)).toEqual(png);
  });

  it("finds a two-character Chinese term and conversations by member name", async () => {
    const { tokens } = await setupTenant();
    const id = await createGroup(tokens.alice!, ["bob"], "华东销售");
    await sendHttp(tokens.bob!, id, "zh", "请跟进这个线索");
    const alice = apiAs(tokens.alice!);
    const { hits } = await alice.searchMessages("线索");
    expect(hits.map((h) => [h.message.seq, h.snippet])).toEqual([[1, "请跟进这个<mark>线索</mark>"]]);
    expect((await alice.searchConversations("BOB")).conversations.map((c) => c.id)).toEqual([id]);
  });
});

describe("DeviceChannel", () => {
  it("announces readiness, then a notify for a message in any conversation", async () => {
    const { tokens } = await setupTenant();
    const id = await createGroup(tokens.alice!, ["bob"]);
    const channel = new DeviceChannel({ baseUrl: BASE, token: tokens.alice!, deviceId: "web-1", connect: connectThroughWorker, fetch: workerFetch });
    const ready = next<{ userId: string }>((l) => channel.on("ready", l));
    channel.connect();
    expect((await ready).userId).toBe("alice");
    const notify = next<{ conversationId: string; seq: number; sender: string }>((l) => channel.on("notify", l));
    await sendHttp(tokens.bob!, id, "n1", "ping alice");
    expect(await notify).toMatchObject({ conversationId: id, seq: 1, sender: "bob" });
    channel.close();
    expect(channel.state).toBe("closed");
  });

  it("stops for good when the token is refused", async () => {
    const channel = new DeviceChannel({ baseUrl: BASE, token: "expired", deviceId: "web-1", connect: connectThroughWorker, fetch: workerFetch });
    const error = next<SwitchboardError>((l) => channel.on("error", l));
    channel.connect();
    expect(await error).toMatchObject({ code: "unauthorized", fatal: true });
    expect(channel.state).toBe("closed");
  });
});
