// Latency samples and formatting.

/** A growable list of float samples (milliseconds). */
export class Samples {
  constructor(capacity = 1 << 16) {
    this.data = new Float64Array(capacity);
    this.length = 0;
  }

  push(value) {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  summary() {
    const n = this.length;
    if (n === 0) return { count: 0, p50: null, p90: null, p99: null, max: null, mean: null };
    const sorted = this.data.slice(0, n).sort();
    const at = (q) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((q / 100) * n) - 1))];
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i];
    return { count: n, p50: at(50), p90: at(90), p99: at(99), max: sorted[n - 1], mean: sum / n };
  }
}

export const round = (x, digits = 2) => (x === null || x === undefined || Number.isNaN(x) ? null : Number(x.toFixed(digits)));

export function fmt(x, digits = 1) {
  if (x === null || x === undefined || Number.isNaN(x)) return "-";
  if (typeof x !== "number") return String(x);
  if (Math.abs(x) >= 10_000) return Math.round(x).toLocaleString("en-US");
  return x.toFixed(digits);
}

export const mib = (bytes) => (bytes === null || bytes === undefined ? null : bytes / (1024 * 1024));

/** A plain-text table: rows of arrays, first row the header. */
export function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? "").length)));
  const line = (r) => r.map((cell, c) => (c === 0 ? String(cell ?? "").padEnd(widths[c]) : String(cell ?? "").padStart(widths[c]))).join("  ");
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}
