// HTTP client for seeding: paces itself under the per-tenant limit (3000 requests per 10 s fixed window,
// aligned to the wall clock like the local rate limiter) and waits out any 429 by its Retry-After.
const WINDOW_MS = 10_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Pacer {
  constructor(budget = 2_800) {
    this.budget = budget;
    this.epoch = -1;
    this.count = 0;
  }

  /** Reserve `n` requests in the current window, waiting for the next window when they do not fit. */
  async reserve(n = 1) {
    for (;;) {
      const epoch = Math.floor(Date.now() / WINDOW_MS);
      if (epoch !== this.epoch) {
        this.epoch = epoch;
        this.count = 0;
      }
      if (this.count + n <= this.budget || (this.count === 0 && n > this.budget)) {
        this.count += n;
        return;
      }
      await sleep((epoch + 1) * WINDOW_MS - Date.now() + 20);
    }
  }

  /** Wait for a fresh window if `n` requests do not fit in what is left of this one. Returns the ms waited. */
  async fresh(n) {
    const start = Date.now();
    await this.reserve(n);
    return Date.now() - start;
  }
}

export class Api {
  constructor(base, token, pacer = new Pacer()) {
    this.base = base;
    this.token = token;
    this.pacer = pacer;
    this.requests = 0;
    this.throttled = 0;
  }

  async call(method, path, body, { ok = [200, 201, 204], token = this.token, paced = true } = {}) {
    for (let attempt = 0; ; attempt++) {
      if (paced) await this.pacer.reserve(1);
      this.requests++;
      let res;
      try {
        res = await fetch(`${this.base}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        if (attempt < 5) {
          await sleep(200 * (attempt + 1));
          continue;
        }
        throw new Error(`${method} ${path}: ${err.message}`);
      }
      const text = await res.text();
      if (res.status === 429 && attempt < 20) {
        this.throttled++;
        await sleep(Number(res.headers.get("retry-after") ?? 1) * 1000);
        continue;
      }
      const data = text ? JSON.parse(text) : null;
      if (!ok.includes(res.status)) throw new Error(`${method} ${path} -> ${res.status} ${text.slice(0, 300)}`);
      return data;
    }
  }
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return results;
}

/** A fresh tenant: `operator` (the admin token) creates it, `api` speaks with its key. */
export async function createTenant(base, adminToken, tenantId) {
  const operator = new Api(base, adminToken);
  const { apiKey } = await operator.call("POST", "/v1/tenants", { id: tenantId, name: `Bench ${tenantId}` }, { paced: false });
  return { operator, api: new Api(base, apiKey) };
}

/** Create every user of `ids` with a 6-hour token: a Map of id to token. */
export async function createUsers(api, ids, concurrency) {
  const tokens = await pool(ids, concurrency, async (id) => {
    await api.call("PUT", `/v1/users/${id}`, { name: `Bench user ${id}` });
    return (await api.call("POST", `/v1/users/${id}/tokens`, { ttlSeconds: 6 * 3600 })).token;
  });
  return new Map(ids.map((id, i) => [id, tokens[i]]));
}

/** A group owned by the tenant's bot: created with the first 199 `members`, the rest added 200 at a time. */
export async function createGroup(api, name, members) {
  const group = await api.call("POST", "/v1/conversations", { type: "group", name, members: members.slice(0, 199) });
  for (let i = 199; i < members.length; i += 200) {
    await api.call("POST", `/v1/conversations/${group.id}/members`, { userIds: members.slice(i, i + 200) });
  }
  return group;
}

/**
 * A fresh tenant with `rooms` groups of `clientsPerRoom` distinct users each, owned by the tenant's bot.
 * Returns { tenantId, api (tenant key client), rooms: [{ id, users: [{ id, token }] }] }.
 */
export async function seedTenant({ base, adminToken, tenantId, rooms, clientsPerRoom, concurrency = 12 }) {
  if (clientsPerRoom > 999) throw new Error("a group holds at most 1000 members (the bot included): use --clients <= 999");
  const { api } = await createTenant(base, adminToken, tenantId);
  const users = [];
  for (let r = 0; r < rooms; r++) for (let i = 0; i < clientsPerRoom; i++) users.push(`u${r}-${i}`);
  const byId = await createUsers(api, users, concurrency);
  const roomList = await pool(
    Array.from({ length: rooms }, (_, r) => r),
    concurrency,
    async (r) => {
      const members = Array.from({ length: clientsPerRoom }, (_, i) => `u${r}-${i}`);
      const group = await createGroup(api, `bench ${tenantId} ${r}`, members);
      return { id: group.id, users: members.map((id) => ({ id, token: byId.get(id) })) };
    },
  );
  return { tenantId, api, rooms: roomList };
}
