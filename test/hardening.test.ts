import { describe, expect, it } from "vitest";
import { api, createGroup, expectError, join, sendHttp, setupTenant } from "./helpers";
import type { MessagesPage, Reactions } from "./responses";

/** Findings of the outside audit, one regression test each. */

describe("reactions keyed by user-chosen strings", () => {
  it("refuses __proto__ and constructor as emoji, over HTTP and over the socket", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "m", "hello");
    for (const emoji of ["__proto__", "constructor", "toString", "x", "ab", "👍👍", "👍 "]) {
      expectError(await api("PUT", `/v1/conversations/${id}/messages/1/reactions/${encodeURIComponent(emoji)}`, { token: t.tokens.bob! }), 400, "invalid_request");
    }
    const bob = await join(id, t.tokens.bob!, { after: 1 });
    bob.socket.send({ type: "react", seq: 1, emoji: "__proto__" });
    expect(await bob.socket.next("error")).toMatchObject({ code: "invalid_request" });
    bob.socket.send({ type: "ping" });
    await bob.socket.next("pong");
    bob.socket.close();
    const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages`, { token: t.tokens.alice! });
    expect(history.status).toBe(200);
    expect(history.body.messages).toHaveLength(1);
  });

  it("keeps a conversation readable after reactions named like Object.prototype members", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "m", "hello");
    const names = [":__proto__:", ":constructor:", ":hasownproperty:", ":tostring:"];
    for (const emoji of names) {
      const res = await api<Reactions>("PUT", `/v1/conversations/${id}/messages/1/reactions/${encodeURIComponent(emoji)}`, { token: t.tokens.bob! });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const bobSocket = await join(id, t.tokens.bob!, { after: 0 });
    bobSocket.socket.send({ type: "react", seq: 1, emoji: ":__proto__:", remove: true });
    bobSocket.socket.send({ type: "react", seq: 1, emoji: ":__proto__:" });
    bobSocket.socket.close();
    for (const token of [t.tokens.alice!, t.tokens.bob!]) {
      const history = await api<MessagesPage>("GET", `/v1/conversations/${id}/messages?after=0&limit=1`, { token });
      expect(history.status, JSON.stringify(history.body)).toBe(200);
      const reactions = history.body.messages[0]?.reactions ?? {};
      expect(Object.keys(reactions).sort()).toEqual([...names].sort());
      expect(reactions[":__proto__:"]).toEqual(["bob"]);
      // A socket replay covering the message carries the same reactions.
      const { socket } = await join(id, token, { after: 0 });
      const [first] = await socket.messages(1);
      expect(first!.reactions?.[":constructor:"]).toEqual(["bob"]);
      socket.close();
    }
  });

  it("accepts real emoji: sequences, flags, keycaps and skin tones", async () => {
    const t = await setupTenant();
    const id = await createGroup(t.tokens.alice!, ["bob"]);
    await sendHttp(t.tokens.alice!, id, "m", "hello");
    for (const emoji of ["👍", "👍🏽", "👩‍💻", "🇨🇳", "1️⃣", "❤️", "❤", ":+1:"]) {
      const res = await api<Reactions>("PUT", `/v1/conversations/${id}/messages/1/reactions/${encodeURIComponent(emoji)}`, { token: t.tokens.bob! });
      expect(res.status, `${emoji}: ${JSON.stringify(res.body)}`).toBe(200);
    }
  });
});
