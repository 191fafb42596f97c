// HTTP for the chaos run: the public API on 127.0.0.1 only, every request bounded in time, retries bounded
// in count, and the tenant, users and conversations the run needs.
import { HOST } from "../lib/stack.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class ApiError extends Error {
  constructor(method, path, status, body) {
    super(`${method} ${path} -> ${status} ${typeof body === "string" ? body : JSON.stringify(body)}`.slice(0, 600));
    this.status = status;
    this.body = body;
  }
}

export class Api {
  constructor(base) {
    const url = new URL(base);
    if (url.hostname !== HOST) throw new Error(`the chaos run only talks to ${HOST}, not ${url.hostname}`);
    this.base = base;
    this.requests = 0;
  }

  /** One request. Resolves {status, data, headers}; rejects only on a network failure or timeout. */
  async call(method, path, token, body, { timeoutMs = 15_000, signal } = {}) {
    this.requests += 1;
    const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.any(signals),
    });
    const text = await res.text();
    let data = text;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text for the report
    }
    return { status: res.status, data, headers: res.headers };
  }

  /**
   * A request that must succeed, retried (at most `attempts` times, within `deadlineMs`) across network
   * failures, 429 and 5xx; only use it for requests that are safe to repeat.
   */
  async must(method, path, token, body, { ok = [200, 201], attempts = 20, deadlineMs = 60_000, onRetry } = {}) {
    const deadline = Date.now() + deadlineMs;
    let last;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const res = await this.call(method, path, token, body);
        if (ok.includes(res.status)) return res.data;
        last = new ApiError(method, path, res.status, res.data);
        if (res.status !== 429 && res.status < 500) throw last;
        const retryAfter = Number(res.headers.get("retry-after"));
        if (onRetry) onRetry(res.status);
        await sleep(Math.min(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 250 * attempt, 5_000, Math.max(0, deadline - Date.now())));
      } catch (err) {
        if (err instanceof ApiError && err.status !== 429 && err.status < 500) throw err;
        last = err;
        if (onRetry) onRetry("network");
        await sleep(Math.min(250 * attempt, 2_000, Math.max(0, deadline - Date.now())));
      }
      if (Date.now() >= deadline) break;
    }
    throw new Error(`${method} ${path} did not succeed in ${attempts} attempts / ${deadlineMs / 1000} s: ${last?.message ?? last}`);
  }
}

/**
 * A tenant "chaos", its users and the conversations of the plan. `plan.conversations` is a list of
 * {type, members} (members are user ids; the first is the owner). Returns tokens and conversation ids.
 */
export async function seedTenant(api, adminToken, plan) {
  // A retry whose first attempt did get through answers 409: then take a further key of the tenant.
  const res = await api.call("POST", "/v1/tenants", adminToken, { id: "chaos", name: "Chaos Test Corp" }).catch(() => undefined);
  const apiKey =
    res?.status === 201 ? res.data.apiKey : (await api.must("POST", "/v1/tenants/chaos/api-keys", adminToken, undefined, { ok: [201], onRetry: undefined })).apiKey;
  const users = [...new Set(plan.conversations.flatMap((c) => c.members))];
  const tokens = {};
  for (const id of users) {
    await api.must("PUT", `/v1/users/${id}`, apiKey, { name: `Chaos ${id}` }, { ok: [200] });
    tokens[id] = (await api.must("POST", `/v1/users/${id}/tokens`, apiKey, { ttlSeconds: 24 * 3600 })).token;
  }
  const conversations = [];
  for (const [i, c] of plan.conversations.entries()) {
    const [owner, ...others] = c.members;
    const created =
      c.type === "direct"
        ? await api.must("POST", "/v1/conversations", tokens[owner], { type: "direct", with: others[0] })
        : await api.must("POST", "/v1/conversations", tokens[owner], { type: "group", name: `chaos ${i}`, members: others });
    conversations.push({ index: i, id: created.id, type: c.type, members: c.members, tag: c.tag });
  }
  return { apiKey, tokens, conversations };
}
