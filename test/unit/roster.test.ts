import { describe, expect, it } from "vitest";
import { nextOwner } from "../../src/domain/membership";
import { Conversation } from "../../src/domain/conversation";
import { CLOSE_CODES } from "../../src/protocol/close-codes";
import { Roster } from "../../src/domain/roster";
import { as, group, TENANT, value } from "./fixtures";
import { MemoryStore, RecordingFanout } from "./memory-store";

const events = (fanout: ReturnType<typeof group>["fanout"]) => fanout.messages().filter((m) => m.kind === "system").map((m) => m.body.event);

describe("membership", () => {
  it("lets owners and admins add members, each addition a system event", () => {
    const { roster, fanout } = group(["bob"]);
    expect(roster.addMembers(as("bob"), ["dave"], 2_000)).toMatchObject({ ok: false, code: "forbidden" });
    expect(value(roster.addMembers(as("alice"), ["dave", "dave"], 2_000)).members).toEqual(["alice", "bob", "dave"]);
    expect(events(fanout)).toEqual(["members_added"]);
  });

  it("lets an admin remove plain members but not other admins", () => {
    const { roster } = group(["bob", "carol", "dave"]);
    value(roster.setRole(as("alice"), "bob", "admin", 2_000));
    value(roster.setRole(as("alice"), "carol", "admin", 2_000));
    expect(roster.removeMember(as("bob"), "carol", 3_000)).toMatchObject({ ok: false, code: "forbidden" });
    expect(value(roster.removeMember(as("bob"), "dave", 3_000))).toEqual({ removed: true });
  });

  it("passes ownership to the longest-standing admin when the owner leaves, and closes the leaver's sockets", () => {
    const { roster, conversation, fanout } = group(["bob", "carol"]);
    value(roster.setRole(as("alice"), "carol", "admin", 2_000));
    value(roster.removeMember(as("alice"), "alice", 3_000));
    expect(value(conversation.view(as("carol"))).roles).toEqual({ bob: "member", carol: "owner" });
    expect(events(fanout).slice(-2)).toEqual(["member_left", "owner_changed"]);
    expect(fanout.disconnected).toEqual([{ userId: "alice", code: CLOSE_CODES.notMember }]);
    expect(conversation.isMember(as("alice"))).toBe(false);
  });

  it("passes ownership to the longest-standing member when there is no admin", () => {
    expect(nextOwner([
      { userId: "zed", role: "member", joinedAt: 5 },
      { userId: "amy", role: "member", joinedAt: 5 },
      { userId: "old", role: "member", joinedAt: 9 },
    ])?.userId).toBe("amy");
    expect(nextOwner([])).toBeUndefined();
  });

  it("hands ownership over by making someone else owner: the old owner becomes admin", () => {
    const { roster, conversation } = group(["bob"]);
    expect(roster.setRole(as("alice"), "alice", "member", 2_000)).toMatchObject({ ok: false, code: "invalid_request" });
    value(roster.setRole(as("alice"), "bob", "owner", 2_000));
    expect(value(conversation.view(as("bob"))).roles).toEqual({ alice: "admin", bob: "owner" });
    expect(roster.setRole(as("alice"), "bob", "member", 3_000)).toMatchObject({ ok: false, code: "forbidden" });
  });

  it("keeps a direct conversation's pair fixed and returns the existing one when opened again", () => {
    const roster = new Roster(new Conversation(new MemoryStore(), new RecordingFanout()));
    const open = (actor: string) => roster.openDirect({ tenantId: TENANT, conversationId: "d_1", members: ["alice", "bob"], actor, now: 1_000 });
    expect(value(open("alice"))).toMatchObject({ created: true, conversation: { type: "direct", members: ["alice", "bob"] } });
    expect(value(open("bob")).created).toBe(false);
    expect(roster.addMembers(as("alice"), ["carol"], 2_000)).toMatchObject({ ok: false, code: "forbidden" });
    expect(roster.removeMember(as("alice"), "bob", 2_000)).toMatchObject({ ok: false, code: "forbidden" });
  });

  it("lets the tenant's administrator manage a group it is not a member of", () => {
    const { roster } = group(["bob"]);
    const bot = as("bot", { tenantAdmin: true });
    expect(value(roster.addMembers(bot, ["dave"], 2_000)).members).toContain("dave");
    expect(value(roster.removeMember(bot, "alice", 3_000))).toEqual({ removed: true });
  });
});
