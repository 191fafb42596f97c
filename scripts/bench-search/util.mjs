// HTTP client (paced under the per-tenant limit), a concurrency pool and latency statistics.
import { performance } from "node:perf_hooks";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const WINDOW_MS = 10_000;

/** Stays under the tenant's 3,000 requests per 10 s (fixed windows aligned to the wall clock). */
export class Pacer {
  constructor(budget = 2_700) {
    this.budget = budget;
    this.epoch = -1;
    this.count = 0;
  }

  async reserve() {
    for (;;) {
      const epoch = Math.floor(Date.now() / WINDOW_MS);
      if (epoch !== this.epoch) {
        this.epoch = epoch;
        this.count = 0;
      }
      if (this.count < this.budget) {
        this.count++;
        return;
      }
      await sleep((epoch + 1) * WINDOW_MS - Date.now() + 20);
    }
  }
}

export class Http {
  constructor(base, pacer = new Pacer()) {
    this.base = base;
    this.pacer = pacer;
    this.throttled = 0;
  }

  /** One call; retries 429 (after Retry-After) and connection errors. Returns { status, data, ms } of the last try. */
  async call(method, path, { token, body, ok = [200, 201, 204], paced = true } = {}) {
    for (let attempt = 0; ; attempt++) {
      if (paced) await this.pacer.reserve();
      const t0 = performance.now();
      let res, text;
      try {
        res = await fetch(`${this.base}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
          body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
          signal: AbortSignal.timeout(300_000),
        });
        text = await res.text();
      } catch (err) {
        if (err.name !== "TimeoutError" && attempt < 5) {
          await sleep(250 * (attempt + 1));
          continue;
        }
        throw new Error(`${method} ${path}: ${err.cause?.message ?? err.message}`);
      }
      const ms = performance.now() - t0;
      if (res.status === 429 && attempt < 30) {
        this.throttled++;
        await sleep(Number(res.headers.get("retry-after") ?? 1) * 1000);
        continue;
      }
      let data = null;
      try {
        data = text ? JSON.parse(text) : null;
      } catch {
        data = text;
      }
      if (!ok.includes(res.status)) throw new Error(`${method} ${path} -> ${res.status} ${String(text).slice(0, 400)}`);
      return { status: res.status, data, ms };
    }
  }
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i], i);
      }
    }),
  );
  return results;
}

/** Nearest-rank percentiles of a list of numbers. */
export function summarize(values) {
  const n = values.length;
  if (n === 0) return { count: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  const sorted = Float64Array.from(values).sort();
  const at = (q) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((q / 100) * n) - 1))];
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: n, p50: at(50), p90: at(90), p99: at(99), max: sorted[n - 1], mean: sum / n };
}

export function fmt(x, digits = 1) {
  if (x === null || x === undefined || Number.isNaN(x)) return "-";
  if (typeof x !== "number") return String(x);
  if (Math.abs(x) >= 10_000) return Math.round(x).toLocaleString("en-US");
  return x.toFixed(digits);
}

export const round = (x, digits = 2) => (x === null || x === undefined || Number.isNaN(x) ? null : Number(x.toFixed(digits)));

/** A plain-text table: rows of arrays, first row the header. */
export function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? "").length)));
  const line = (r) => r.map((cell, c) => (c === 0 ? String(cell ?? "").padEnd(widths[c]) : String(cell ?? "").padStart(widths[c]))).join("  ");
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

/** A Markdown table: rows of arrays, first row the header. */
export function mdTable(rows) {
  return [rows[0], rows[0].map(() => "---"), ...rows.slice(1)].map((r) => `| ${r.join(" | ")} |`).join("\n");
}
