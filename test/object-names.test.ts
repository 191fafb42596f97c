import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { presenceName } from "../src/domain/notify";
import { roomName } from "../src/protocol/ids";

/**
 * Objects are addressed by name (`tenant:conversation`, `presence:tenant:shard`) and read it back from
 * `ctx.id.name` on this compatibility date, alarms included, so nothing needs to store it for them.
 */
describe("object names", () => {
  it("are handed to both kinds of object", async () => {
    const room = roomName("names", "g_00000000000000000000000000000001");
    expect(await runInDurableObject(env.ROOMS.getByName(room), (_i, state) => state.id.name)).toBe(room);
    const shard = presenceName("names", 2);
    expect(await runInDurableObject(env.PRESENCE.getByName(shard), (_i, state) => state.id.name)).toBe(shard);
  });

  it("are handed to an object woken by its alarm: a presence shard announces with no stored copy of its tenant", async () => {
    const stub = env.PRESENCE.getByName(presenceName(`names-${crypto.randomUUID().slice(0, 8)}`, 0));
    await runInDurableObject(stub, async (_i, state) => {
      state.storage.sql.exec(`INSERT INTO users (user_id, last_seen, pending) VALUES ('alice', 1, 1)`);
      await state.storage.setAlarm(Date.now() + 200);
    });
    await evictDurableObject(stub);
    // The alarm wakes a fresh instance that no call has named: its run must know its tenant and shard.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const after = await runInDurableObject(stub, (_i, state) => ({
      pending: state.storage.sql.exec<{ pending: number }>(`SELECT pending FROM users WHERE user_id = 'alice'`).one().pending,
      meta: state.storage.sql.exec(`SELECT * FROM meta`).toArray().length,
    }));
    expect(after).toEqual({ pending: 0, meta: 0 });
  });
});
