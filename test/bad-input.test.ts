import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ServerFrame } from "../src/protocol/frames";
import { api, BASE, createGroup, errorOf, expectError, join, manualRoomClock, sendHttp, setupTenant, type ApiResponse, type TestSocket, type TestTenant } from "./helpers";
import type { Conversation, ConversationCreated, ConversationList, Message, MessagesPage, User } from "./responses";

const KIB = 1024;

/** A tenant with alice and bob, and a group of theirs holding one message (seq 1, clientId "m1"). */
async function roomWithOneMessage(): Promise<{ t: TestTenant; id: string; alice: string; bob: string }> {
  const t = await setupTenant(["alice", "bob"]);
  const id = await createGroup(t.tokens.alice!, ["bob"]);
  const first = await sendHttp(t.tokens.alice!, id, "m1", "first");
  expect(first.status).toBe(201);
  expect(first.body.seq).toBe(1);
  return { t, id, alice: t.tokens.alice!, bob: t.tokens.bob! };
}

/** The conversation holds exactly these clientIds, as seq 1..n, and says lastSeq n. */
async function expectLog(token: string, id: string, clientIds: string[]): Promise<void> {
  const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages?limit=200`, { token });
  expect(history.status).toBe(200);
  expect(history.body.messages.map((m: { seq: number; clientId: string }) => [m.seq, m.clientId])).toEqual(
    clientIds.map((c, i) => [i + 1, c]),
  );
  const view = await api<Conversation>("GET", `/v1/conversations/${id}`, { token });
  expect(view.status).toBe(200);
  expect(view.body.lastSeq).toBe(clientIds.length);
}

function expectFieldError(res: ApiResponse, field: string): void {
  expectError(res, 400, "invalid_request");
  expect(res.body.error.message).toContain(field);
}

function rawPost(path: string, token: string, body: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body,
  });
}

async function envelope(res: Response): Promise<ApiResponse> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the assertion below shows it
  }
  return { status: res.status, body, headers: res.headers };
}

/** A valid send whose JSON is `bytes` long or longer. */
function bigSendBody(bytes: number): string {
  return JSON.stringify({ clientId: "big", kind: "text", body: { text: "x".repeat(bytes) } });
}

describe.concurrent("HTTP bad input", () => {
  it("malformed JSON is refused with 400 invalid_request and stores nothing", async () => {
    const { id, alice } = await roomWithOneMessage();
    const res = await api<Message>("POST", `/v1/conversations/${id}/messages`, {
      token: alice,
      rawBody: '{"clientId":"m2","kind":"text","body":{"text":"hi"',
      headers: { "content-type": "application/json" },
    });
    expectError(res, 400, "invalid_request");
    await expectLog(alice, id, ["m1"]);
  });

  it.each([
    ["truncated JSON", "{"],
    ["a bare word", "hello"],
    ["single quotes", "{'type':'group'}"],
    ["a trailing comma", '{"type":"group","name":"x",}'],
    ["invalid UTF-8", "\uFFFD"],
  ])("malformed JSON (%s) on create-conversation is 400 and creates nothing", async (_label, raw) => {
    const t = await setupTenant(["alice"]);
    const res = await api<ConversationCreated>("POST", "/v1/conversations", { token: t.tokens.alice!, rawBody: raw, headers: { "content-type": "application/json" } });
    expectError(res, 400, "invalid_request");
    const list = await api<ConversationList>("GET", "/v1/conversations", { token: t.tokens.alice! });
    expect(list.body.conversations).toEqual([]);
  });

  it("a body that is not a JSON object is refused with 400", async () => {
    const { id, alice } = await roomWithOneMessage();
    for (const raw of ["[]", '"text"', "null", "42", "true"]) {
      const res = await api<Message>("POST", `/v1/conversations/${id}/messages`, { token: alice, rawBody: raw, headers: { "content-type": "application/json" } });
      expectError(res, 400, "invalid_request");
    }
    await expectLog(alice, id, ["m1"]);
  });

  it("malformed JSON on a user upsert is 400 and creates no user", async () => {
    const t = await setupTenant([]);
    const res = await api<User>("PUT", "/v1/users/zed", { token: t.apiKey, rawBody: "{name:", headers: { "content-type": "application/json" } });
    expectError(res, 400, "invalid_request");
    expectError(await api("GET", "/v1/users/zed", { token: t.apiKey }), 404, "not_found");
  });

  it.each([
    ["clientId is a number", { clientId: 5, kind: "text", body: { text: "x" } }, "clientId"],
    ["clientId is missing", { kind: "text", body: { text: "x" } }, "clientId"],
    ["kind is a number", { clientId: "c", kind: 5, body: { text: "x" } }, "kind"],
    ["body is a string", { clientId: "c", kind: "text", body: "x" }, "body"],
    ["body.text is a number", { clientId: "c", kind: "text", body: { text: 5 } }, "text"],
    ["body.mentions is a string", { clientId: "c", kind: "text", body: { text: "x", mentions: "bob" } }, "mentions"],
  ])("a message whose %s is 400 naming the field and stores nothing", async (_label, body, field) => {
    const { id, alice } = await roomWithOneMessage();
    const res = await api<Message>("POST", `/v1/conversations/${id}/messages`, { token: alice, body });
    expectFieldError(res, field);
    await expectLog(alice, id, ["m1"]);
  });

  it.each([
    ["a group name is a number", "/v1/conversations", { type: "group", name: 5, members: [] }, "name"],
    ["group members is a string", "/v1/conversations", { type: "group", name: "G", members: "bob" }, "members"],
    ["direct.with is a number", "/v1/conversations", { type: "direct", with: 5 }, "with"],
    ["the conversation type is unknown", "/v1/conversations", { type: "channel", name: "G" }, "type"],
  ])("creating a conversation where %s is 400 naming the field and creates nothing", async (_label, path, body, field) => {
    const t = await setupTenant(["alice", "bob"]);
    expectFieldError(await api("POST", path, { token: t.tokens.alice!, body }), field);
    expect((await api<ConversationList>("GET", "/v1/conversations", { token: t.tokens.alice! })).body.conversations).toEqual([]);
  });

  it.each([
    ["read.seq is a string", "POST", "read", { seq: "x" }, "seq"],
    ["read.seq is negative", "POST", "read", { seq: -1 }, "seq"],
    ["settings.muted is a string", "PUT", "settings", { muted: "yes" }, "muted"],
    ["members.userIds is a string", "POST", "members", { userIds: "carol" }, "userIds"],
    ["members.userIds holds an invalid id", "POST", "members", { userIds: ["a b"] }, "userIds"],
  ])("a conversation call where %s is 400 naming the field and changes nothing", async (_label, method, sub, body, field) => {
    const { id, alice } = await roomWithOneMessage();
    const before = await api<Conversation>("GET", `/v1/conversations/${id}`, { token: alice });
    expectFieldError(await api(method, `/v1/conversations/${id}/${sub}`, { token: alice, body }), field);
    await expectLog(alice, id, ["m1"]);
    const after = await api<Conversation>("GET", `/v1/conversations/${id}`, { token: alice });
    expect(after.body).toEqual(before.body);
    expect(after.body.members).toEqual(["alice", "bob"]);
  });

  it("a user upsert whose name is a number is 400 naming name", async () => {
    const t = await setupTenant([]);
    expectFieldError(await api<User>("PUT", "/v1/users/zed", { token: t.apiKey, body: { name: 5 } }), "name");
  });

  it("a body over 64 KiB is refused with 413 too_large and stores nothing", async () => {
    const { id, alice } = await roomWithOneMessage();
    const res = await api<Message>("POST", `/v1/conversations/${id}/messages`, {
      token: alice,
      rawBody: bigSendBody(64 * KIB + 1),
      headers: { "content-type": "application/json" },
    });
    expectError(res, 413, "too_large");
    await expectLog(alice, id, ["m1"]);
  });

  it("a body over 64 KiB is refused with 413 even when Content-Length claims it is small", async () => {
    const { id, alice } = await roomWithOneMessage();
    const raw = bigSendBody(80 * KIB);
    const res = await envelope(await rawPost(`/v1/conversations/${id}/messages`, alice, raw, { "content-length": "100" }));
    expectError(res, 413, "too_large");
    await expectLog(alice, id, ["m1"]);
  });

  it("a body over 64 KiB is refused with 413 when it is streamed without Content-Length", async () => {
    const { id, alice } = await roomWithOneMessage();
    const bytes = new TextEncoder().encode(bigSendBody(100 * KIB));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 8 * KIB) controller.enqueue(bytes.slice(i, i + 8 * KIB));
        controller.close();
      },
    });
    const res = await envelope(await rawPost(`/v1/conversations/${id}/messages`, alice, stream));
    expectError(res, 413, "too_large");
    await expectLog(alice, id, ["m1"]);
  });

  it("a body over 64 KiB on a user upsert is 413 and creates no user", async () => {
    const t = await setupTenant([]);
    const res = await api<User>("PUT", "/v1/users/zed", {
      token: t.apiKey,
      rawBody: JSON.stringify({ name: "Z", title: "t".repeat(65 * KIB) }),
      headers: { "content-type": "application/json" },
    });
    expectError(res, 413, "too_large");
    expectError(await api("GET", "/v1/users/zed", { token: t.apiKey }), 404, "not_found");
  });

  it("an unknown message kind is 400 naming kind and stores nothing", async () => {
    const { id, alice } = await roomWithOneMessage();
    const res = await api<Message>("POST", `/v1/conversations/${id}/messages`, { token: alice, body: { clientId: "v", kind: "video", body: { text: "x" } } });
    expectFieldError(res, "kind");
    await expectLog(alice, id, ["m1"]);
  });

  it("a client-sent system message is 400 naming kind and stores nothing", async () => {
    const { id, alice } = await roomWithOneMessage();
    const res = await api<Message>("POST", `/v1/conversations/${id}/messages`, {
      token: alice,
      body: { clientId: "s", kind: "system", body: { event: "members_added", actor: "alice", userIds: ["mallory"] } },
    });
    expectFieldError(res, "kind");
    await expectLog(alice, id, ["m1"]);
  });

  it("a text of 8001 characters is 400 naming text and stores nothing", async () => {
    const { id, alice } = await roomWithOneMessage();
    const res = await sendHttp(alice, id, "long", "y".repeat(8001));
    expectFieldError(res, "text");
    await expectLog(alice, id, ["m1"]);
  });

  it("a text of exactly 8000 characters is accepted", async () => {
    const { id, alice } = await roomWithOneMessage();
    const res = await sendHttp(alice, id, "long", "y".repeat(8000));
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(201);
    expect(res.body.seq).toBe(2);
    expect(res.body.body.text).toHaveLength(8000);
  });

  it("an empty text is 400 naming text and stores nothing", async () => {
    const { id, alice } = await roomWithOneMessage();
    expectFieldError(await sendHttp(alice, id, "empty", ""), "text");
    await expectLog(alice, id, ["m1"]);
  });

  it("a clientId over 128 characters is 400 naming clientId and stores nothing", async () => {
    const { id, alice } = await roomWithOneMessage();
    expectFieldError(await sendHttp(alice, id, "c".repeat(129), "hi"), "clientId");
    await expectLog(alice, id, ["m1"]);
  });

  it("an empty clientId is 400 naming clientId and stores nothing", async () => {
    const { id, alice } = await roomWithOneMessage();
    expectFieldError(await sendHttp(alice, id, "", "hi"), "clientId");
    await expectLog(alice, id, ["m1"]);
  });

  it("a refused send does not use up its clientId: the corrected retry is created with the next seq", async () => {
    const { id, alice } = await roomWithOneMessage();
    expectFieldError(await sendHttp(alice, id, "retry-me", ""), "text");
    const fixed = await sendHttp(alice, id, "retry-me", "now with text");
    expect(fixed.status).toBe(201);
    expect(fixed.body).toMatchObject({ seq: 2, clientId: "retry-me", body: { text: "now with text" } });
    await expectLog(alice, id, ["m1", "retry-me"]);
  });

  it.each([
    ["limit above 200", "limit=201", "limit"],
    ["limit zero", "limit=0", "limit"],
    ["limit not an integer", "limit=1.5", "limit"],
    ["limit not a number", "limit=ten", "limit"],
    ["limit negative", "limit=-1", "limit"],
    ["after not a number", "after=x", "after"],
    ["after negative", "after=-3", "after"],
    ["before not an integer", "before=2.5", "before"],
  ])("history with %s is 400 naming the parameter", async (_label, query, field) => {
    const { id, alice } = await roomWithOneMessage();
    expectFieldError(await api<MessagesPage>("GET", `/v1/conversations/${id}/messages?${query}`, { token: alice }), field);
  });

  it("history with limit 200 is accepted", async () => {
    const { id, alice } = await roomWithOneMessage();
    const res = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages?limit=200`, { token: alice });
    expect(res.status).toBe(200);
    expect(res.body.messages).toHaveLength(1);
  });

  it("bad input never produces a 500 or a stack trace", async () => {
    const { id, alice } = await roomWithOneMessage();
    const attempts = [
      api<Message>("POST", `/v1/conversations/${id}/messages`, { token: alice, rawBody: "\u0000\u0001", headers: { "content-type": "application/json" } }),
      api<Message>("POST", `/v1/conversations/${id}/messages`, { token: alice, body: { clientId: "x", kind: "text", body: { text: "x", mentions: [null] } } }),
      api<Message>("POST", `/v1/conversations/${id}/messages`, { token: alice, body: { clientId: "x", kind: "image", body: { attachment: { id: 1 } } } }),
      api<Message>("POST", `/v1/conversations/${id}/messages`, { token: alice, body: { clientId: { a: 1 }, kind: ["text"], body: [] } }),
      api<ConversationCreated>("POST", "/v1/conversations", { token: alice, body: { type: "group", name: "x".repeat(10_000), members: [] } }),
      api<ConversationCreated>("POST", "/v1/conversations", { token: alice, body: { type: "direct", with: "alice" } }),
      api("POST", `/v1/conversations/${id}/read`, { token: alice, body: { seq: 1e300 } }),
      api<MessagesPage>("GET", `/v1/conversations/${id}/messages?after=99999999999999999999`, { token: alice }),
      api<MessagesPage>("GET", `/v1/conversations/not-an-id/messages`, { token: alice }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(typeof errorOf(res)?.code).toBe("string");
      expect(JSON.stringify(res.body)).not.toMatch(/\n\s*at\s|\.(ts|js):\d+|\bstack\b/);
    }
    await expectLog(alice, id, ["m1"]);
  });
});

describe.concurrent("WebSocket bad frames", () => {
  /** Alice and Bob on sockets to a group holding one message; Bob's socket watches everyone else's view. */
  async function sockets() {
    const room = await roomWithOneMessage();
    const alice = await join(room.id, room.alice);
    const bob = await join(room.id, room.bob);
    // Both sockets replay seq 1 after `ready`.
    expect((await alice.socket.next("message")).message.seq).toBe(1);
    expect((await bob.socket.next("message")).message.seq).toBe(1);
    return { ...room, aliceWs: alice.socket, bobWs: bob.socket };
  }

  /** After a bad frame: the socket is open, still answers, a valid send is acked as seq 2, and others saw only that. */
  async function expectStillServing(aliceWs: TestSocket, bobWs: TestSocket, token: string, id: string): Promise<void> {
    expect(aliceWs.closed).toBeUndefined();
    aliceWs.send({ type: "send", clientId: "after-bad", kind: "text", body: { text: "still here" } });
    const ack = await aliceWs.next("ack");
    expect(ack).toMatchObject({ clientId: "after-bad", seq: 2 });
    const seen = await bobWs.next("message");
    expect(seen.message).toMatchObject({ seq: 2, clientId: "after-bad", sender: "alice" });
    expect(bobWs.frames.filter((f) => f.type === "error")).toEqual([]);
    expect(aliceWs.closed).toBeUndefined();
    await expectLog(token, id, ["m1", "after-bad"]);
  }

  const cases: [string, (ws: TestSocket) => void, { code: string; clientId?: string }][] = [
    ["malformed JSON", (ws) => ws.send('{"type":"send","clientId":'), { code: "invalid_request" }],
    ["a JSON array", (ws) => ws.send("[1,2,3]"), { code: "invalid_request" }],
    ["a JSON string", (ws) => ws.send('"send"'), { code: "invalid_request" }],
    ["JSON null", (ws) => ws.send("null"), { code: "invalid_request" }],
    ["an unknown type", (ws) => ws.send({ type: "dance", clientId: "u-1" }), { code: "invalid_request", clientId: "u-1" }],
    ["a missing type", (ws) => ws.send({ clientId: "u-2", kind: "text", body: { text: "x" } }), { code: "invalid_request", clientId: "u-2" }],
    ["read with a string seq", (ws) => ws.send({ type: "read", seq: "x" }), { code: "invalid_request" }],
    ["send with a numeric kind", (ws) => ws.send({ type: "send", clientId: "k-1", kind: 5, body: { text: "x" } }), { code: "invalid_request", clientId: "k-1" }],
    ["send without a clientId", (ws) => ws.send({ type: "send", kind: "text", body: { text: "x" } }), { code: "invalid_request" }],
    ["a binary frame", (ws) => ws.ws.send(new Uint8Array([0x7b, 0x7d, 0xff, 0x00])), { code: "invalid_request" }],
    [
      "a frame over 32 KiB",
      (ws) => ws.send({ type: "send", clientId: "huge-1", kind: "text", body: { text: "z".repeat(33 * KIB) } }),
      { code: "too_large" },
    ],
    ["send with an empty text", (ws) => ws.send({ type: "send", clientId: "e-1", kind: "text", body: { text: "" } }), { code: "invalid_request", clientId: "e-1" }],
    [
      "send with a text over 8000 characters",
      (ws) => ws.send({ type: "send", clientId: "l-1", kind: "text", body: { text: "y".repeat(8001) } }),
      { code: "invalid_request", clientId: "l-1" },
    ],
    ["send with an unknown kind", (ws) => ws.send({ type: "send", clientId: "v-1", kind: "video", body: { text: "x" } }), { code: "invalid_request", clientId: "v-1" }],
    [
      "send of a system message",
      (ws) => ws.send({ type: "send", clientId: "s-1", kind: "system", body: { event: "members_added", actor: "alice", userIds: ["x"] } }),
      { code: "invalid_request", clientId: "s-1" },
    ],
    ["send with a body that is not an object", (ws) => ws.send({ type: "send", clientId: "b-1", kind: "text", body: "x" }), { code: "invalid_request", clientId: "b-1" }],
  ];

  it.each(cases)("%s is answered by an error frame, stores nothing, and the socket keeps serving", async (_label, sendBad, expected) => {
    const { id, alice, aliceWs, bobWs } = await sockets();
    try {
      sendBad(aliceWs);
      const error = (await aliceWs.next("error")) as Extract<ServerFrame, { type: "error" }>;
      expect(error.code).toBe(expected.code);
      expect(typeof error.message).toBe("string");
      expect(error.message.length).toBeGreaterThan(0);
      if (expected.clientId) expect(error.clientId).toBe(expected.clientId);
      await expectLog(alice, id, ["m1"]);
      await expectStillServing(aliceWs, bobWs, alice, id);
    } finally {
      aliceWs.close();
      bobWs.close();
    }
  });

  it("the too_large error for an oversize send frame carries that frame's clientId", async () => {
    const { aliceWs, bobWs } = await sockets();
    try {
      aliceWs.send({ type: "send", clientId: "huge-2", kind: "text", body: { text: "z".repeat(33 * KIB) } });
      expect(await aliceWs.next("error")).toMatchObject({ code: "too_large", clientId: "huge-2" });
    } finally {
      aliceWs.close();
      bobWs.close();
    }
  });

  it("a refused send over a socket does not use up its clientId", async () => {
    const { id, alice, aliceWs, bobWs } = await sockets();
    try {
      aliceWs.send({ type: "send", clientId: "again", kind: "text", body: { text: "" } });
      expect(await aliceWs.next("error")).toMatchObject({ code: "invalid_request", clientId: "again" });
      aliceWs.send({ type: "send", clientId: "again", kind: "text", body: { text: "fixed" } });
      expect(await aliceWs.next("ack")).toMatchObject({ clientId: "again", seq: 2 });
      await expectLog(alice, id, ["m1", "again"]);
    } finally {
      aliceWs.close();
      bobWs.close();
    }
  });

  it("a burst of bad frames is answered frame by frame and the socket keeps serving", async () => {
    const { id, alice, aliceWs, bobWs } = await sockets();
    try {
      for (let i = 0; i < 20; i++) aliceWs.send(i % 2 ? "{nope" : { type: "send", clientId: `bad-${i}`, kind: "text", body: {} });
      const errors = [];
      for (let i = 0; i < 20; i++) errors.push(await aliceWs.next("error"));
      expect(errors.filter((e) => e.clientId !== undefined).map((e) => e.clientId)).toEqual(
        Array.from({ length: 10 }, (_, i) => `bad-${i * 2}`),
      );
      await expectStillServing(aliceWs, bobWs, alice, id);
    } finally {
      aliceWs.close();
      bobWs.close();
    }
  });
});

describe("WebSocket send rate limit", () => {
  it("more sends than the burst allows are refused with rate_limited errors carrying their clientId, and the socket keeps serving", async () => {
    const t = await setupTenant(["alice", "bob"]);
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    // The room's clock stands still unless the test moves it: no refill happens while the burst is
    // processed, however slow the machine.
    const clock = await manualRoomClock(t.tenantId, id);
    const { socket } = await join(id, t.tokens.alice!);
    try {
      const total = 450;
      const sent = Array.from({ length: total }, (_, i) => `r-${i}`);
      for (const clientId of sent) socket.send({ type: "send", clientId, kind: "text", body: { text: clientId } });
      const answers: ServerFrame[] = [];
      for (let i = 0; i < total; i++) answers.push(await socket.next((f) => f.type === "ack" || f.type === "error", 10_000));

      const acks = answers.filter((f): f is Extract<ServerFrame, { type: "ack" }> => f.type === "ack");
      const errors = answers.filter((f): f is Extract<ServerFrame, { type: "error" }> => f.type === "error");
      expect(acks.length).toBeGreaterThanOrEqual(300);
      expect(errors.length).toBeGreaterThan(0);
      expect(acks.length + errors.length).toBe(total);
      for (const e of errors) {
        expect(e.code).toBe("rate_limited");
        expect(sent).toContain(e.clientId);
      }
      // Every frame got exactly one answer, and the acks are gapless from 1.
      expect(new Set(answers.map((f) => (f as { clientId?: string }).clientId)).size).toBe(total);
      expect(acks.map((a) => a.seq)).toEqual(acks.map((_, i) => i + 1));
      const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages?limit=200&after=${acks.length - 5}`, { token: t.tokens.alice! });
      expect(history.body.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3, 4, 5].map((k) => acks.length - 5 + k));
      const view = await api<Conversation>("GET", `/v1/conversations/${id}`, { token: t.tokens.alice! });
      expect(view.body.lastSeq).toBe(acks.length);

      // Still serving: a ping is answered at once, and after a short refill a refused clientId goes through.
      socket.send({ type: "ping" });
      await socket.next("pong");
      clock.advance(100);
      const retried = errors[0]!.clientId!;
      socket.send({ type: "send", clientId: retried, kind: "text", body: { text: "later" } });
      expect(await socket.next("ack")).toMatchObject({ clientId: retried, seq: acks.length + 1 });
      expect(socket.closed).toBeUndefined();
    } finally {
      socket.close();
    }
  }, 90_000);
});
