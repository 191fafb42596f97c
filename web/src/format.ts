import { lang, t } from "./i18n";

const timeFormat = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(lang, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
const shortDay = new Intl.DateTimeFormat(lang, { month: "short", day: "numeric" });

export function formatTime(ts: number): string {
  return timeFormat.format(ts);
}

/** A day separator's label: today, yesterday, or the date. */
export function formatDay(ts: number, now = Date.now()): string {
  const key = dayKey(ts);
  if (key === dayKey(now)) return t("today");
  if (key === dayKey(now - 86_400_000)) return t("yesterday");
  return dayFormat.format(ts);
}

/** For the conversation list: a time today, a short date otherwise. */
export function formatListTime(ts: number, now = Date.now()): string {
  return dayKey(ts) === dayKey(now) ? timeFormat.format(ts) : shortDay.format(ts);
}

export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatAmount(amount: number, currency: string | undefined): string {
  try {
    return currency ? new Intl.NumberFormat(lang, { style: "currency", currency }).format(amount) : new Intl.NumberFormat(lang).format(amount);
  } catch {
    return `${amount} ${currency ?? ""}`.trim();
  }
}

/** Escape a search snippet for HTML, keeping only the server's `<mark>` markers. */
export function snippetHtml(snippet: string): string {
  const escaped = snippet.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return escaped.replace(/&#60;mark&#62;/g, "<mark>").replace(/&#60;\/mark&#62;/g, "</mark>");
}

/** What went wrong, in the words the error carries (the server's message for a refusal). */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
