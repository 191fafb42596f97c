import { applyD1Migrations, listDurableObjectIds, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll } from "vitest";

// Setup files may run more than once; applyD1Migrations skips what is already applied.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// What a file's last tests left scheduled (a conversation's mirror flush, a presence announcement) runs
// now, once, instead of firing after the file's runner has closed (where it can no longer load modules).
afterAll(async () => {
  for (const id of await listDurableObjectIds(env.ROOMS)) await runDurableObjectAlarm(env.ROOMS.get(id));
  for (const id of await listDurableObjectIds(env.PRESENCE)) await runDurableObjectAlarm(env.PRESENCE.get(id));
});
