// Seeding for scenario P: one fresh tenant with online users (device channels), offline users with a webhook
// push device, and groups of both.
import { createGroup, createTenant, createUsers, pool } from "./api.mjs";

/**
 * A fresh tenant for scenario P:
 *  - `channels` online users c0…, each of which will hold one device channel;
 *  - `offline` users o0…, each with one `webhook` push device (p-o<j>) and never a channel;
 *  - `pushOnline` of the online users also register a webhook device (p-c<i>): they must get no push;
 *  - `groups` groups created by the tenant key (so `bot` is owner and member), each with `onlinePerGroup`
 *    online users (consecutive slices of c0…, wrapping) plus every offline user.
 */
export async function seedPresence({ base, adminToken, tenantId, channels, offline, groups, onlinePerGroup, pushOnline, receiverPort, concurrency = 12 }) {
  if (onlinePerGroup + offline > 999) throw new Error("a group holds at most 1000 members (the bot included)");
  const { operator, api } = await createTenant(base, adminToken, tenantId);
  const onlineIds = Array.from({ length: channels }, (_, i) => `c${i}`);
  const offlineIds = Array.from({ length: offline }, (_, j) => `o${j}`);
  const tokenOf = await createUsers(api, [...onlineIds, ...offlineIds], concurrency);

  // Push devices: every offline user, and a spread of online users (who must not get any push).
  const step = pushOnline > 0 ? Math.max(1, Math.floor(channels / pushOnline)) : 0;
  const onlineWithPush = pushOnline > 0 ? Array.from({ length: Math.min(pushOnline, channels) }, (_, k) => onlineIds[k * step]) : [];
  const pushUsers = [...offlineIds, ...onlineWithPush];
  await pool(pushUsers, concurrency, async (id) => {
    await api.call(
      "POST",
      "/v1/devices",
      { id: `p-${id}`, platform: "webhook", endpoint: `http://127.0.0.1:${receiverPort}/push/${encodeURIComponent(id)}` },
      { token: tokenOf.get(id) },
    );
  });

  const groupList = await pool(
    Array.from({ length: groups }, (_, g) => g),
    concurrency,
    async (g) => {
      const online = Array.from({ length: Math.min(onlinePerGroup, channels) }, (_, k) => onlineIds[(g * onlinePerGroup + k) % channels]);
      const created = await createGroup(api, `bench ${tenantId} presence ${g}`, [...online, ...offlineIds]);
      return { id: created.id, idx: g, online, offline: offlineIds, sender: online[0] };
    },
  );
  return {
    tenantId,
    api,
    tokenOf,
    onlineIds,
    offlineIds,
    onlineWithPush,
    groups: groupList,
    requests: api.requests + operator.requests,
    throttled: api.throttled,
  };
}
