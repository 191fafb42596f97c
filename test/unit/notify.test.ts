import { describe, expect, it } from "vitest";
import { parsePresenceName, planNotifications, presenceName, presenceShard, pushWorthy, shardCount, type NotifyBatch, type NotifyMessage } from "../../src/domain/notify";

const message = (seq: number, sender: string, extra: Partial<NotifyMessage> = {}): NotifyMessage => ({ seq, sender, kind: "text", preview: `m${seq}`, mentions: [], ...extra });

function batch(members: NotifyBatch["members"], messages: NotifyMessage[]): NotifyBatch {
  return { tenantId: "acme", conversationId: "g_1", conversationType: "group", conversationName: "Deals", members, messages };
}

describe("notify planning", () => {
  it("sends online recipients a frame per message and offline ones one push for the newest", () => {
    const plan = planNotifications(
      batch(
        [
          { userId: "alice", muted: false, unread: 0 },
          { userId: "bob", muted: false, unread: 2 },
          { userId: "carol", muted: false, unread: 2 },
        ],
        [message(1, "alice"), message(2, "alice")],
      ),
      (u) => u === "bob",
    );
    expect(plan.frames.map((f) => [f.userId, f.frame.seq])).toEqual([["bob", 1], ["bob", 2]]);
    expect(plan.pushes).toEqual([{ userId: "carol", message: message(2, "alice"), unreadHere: 2 }]);
  });

  it("pushes nothing to a muted recipient unless they are mentioned by id, and nothing to one reading the conversation", () => {
    const muted = { userId: "bob", muted: true, unread: 1 };
    expect(pushWorthy(muted, message(1, "alice", { mentions: ["all"] }))).toBe(false);
    expect(pushWorthy(muted, message(1, "alice", { mentions: ["bob"] }))).toBe(true);
    expect(pushWorthy({ userId: "bob", muted: false, unread: 1 }, message(1, "alice", { kind: "system" }))).toBe(false);
    const plan = planNotifications(batch([{ userId: "bob", muted: false, unread: 1, reading: true }], [message(1, "alice")]), () => false);
    expect(plan).toEqual({ frames: [], pushes: [] });
  });

  it("spreads users over shards by a stable hash and reads the shard count defensively", () => {
    expect(presenceShard("alice", 1)).toBe(0);
    expect(presenceShard("alice", 7)).toBe(presenceShard("alice", 7));
    expect(new Set(Array.from({ length: 200 }, (_, i) => presenceShard(`u${i}`, 4))).size).toBe(4);
    expect([shardCount(undefined), shardCount("0"), shardCount("abc"), shardCount("8")]).toEqual([1, 1, 1, 8]);
  });

  it("reads a presence shard's tenant and index back from its name", () => {
    expect(parsePresenceName(presenceName("acme.eu", 12))).toEqual({ tenantId: "acme.eu", shard: 12 });
    expect(parsePresenceName("acme:g_1")).toBeUndefined();
    expect(parsePresenceName("presence:acme:x")).toBeUndefined();
  });
});
