import type { JsonObject } from "../protocol/frames";

/**
 * What full-text search sees of messages, and how a query becomes FTS5 syntax. Pure functions: the
 * mirror uses the first two when it copies messages to D1, the search endpoint the rest.
 */

/** Longest search query (characters, after trimming). */
export const SEARCH_QUERY_MAX = 100;
/** Most terms (whitespace-separated words) in one query. */
export const SEARCH_TERMS_MAX = 8;

/** Han, Hiragana, Katakana (and half-width), Hangul syllables and jamo, CJK punctuation excluded. */
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;

/** The searchable text of a message body, by kind; recalled messages and system events have none. */
export function searchableText(kind: string, body: JsonObject): string {
  const s = (v: unknown) => (typeof v === "string" ? v : "");
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x) => typeof x === "string").join("\n") : "");
  switch (kind) {
    case "text":
      return s(body.text);
    case "image":
    case "file": {
      const attachment = body.attachment;
      const name = typeof attachment === "object" && attachment !== null && !Array.isArray(attachment) ? attachment.name : undefined;
      return [s(name), s(body.caption)].filter(Boolean).join("\n");
    }
    case "log":
      return [list(body.done), list(body.planned), list(body.blockers), s(body.text)].filter(Boolean).join("\n");
    case "approval":
      return [s(body.title), s(body.details)].filter(Boolean).join("\n");
    case "crm":
      return [s(body.title), s(body.company), s(body.contact), s(body.stage)].filter(Boolean).join("\n");
    default:
      return "";
  }
}

/**
 * The text with every CJK run spelled out as its characters and adjacent pairs, separated by spaces,
 * so a word tokenizer indexes each 1- and 2-character substring of CJK text as a token. Other words stay.
 */
export function cjkGrams(text: string): string {
  return text.replace(CJK_RUN, (run) => {
    const chars = [...run];
    const grams = [...chars];
    for (let i = 0; i + 1 < chars.length; i++) grams.push(chars[i]! + chars[i + 1]!);
    return ` ${grams.join(" ")} `;
  });
}

export type SearchQuery =
  | { ok: true; trigram: string | null; grams: string | null; terms: string[] }
  | { ok: false; message: string };

/**
 * Turn user input into FTS5 queries without ever passing its syntax through: every term becomes a
 * quoted phrase (quotes doubled), terms are ANDed. Terms of 3+ characters go to the trigram index;
 * shorter ones to the grams index (a CJK pair or character, or a whole short word). Control
 * characters and overlong queries are refused.
 */
export function compileQuery(raw: string): SearchQuery {
  const q = raw.normalize("NFKC").trim();
  if (q.length === 0) return { ok: false, message: "q: must not be empty" };
  if (q.length > SEARCH_QUERY_MAX) return { ok: false, message: `q: must be at most ${SEARCH_QUERY_MAX} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(q)) return { ok: false, message: "q: must not contain control characters" };
  const terms = q.split(/\s+/).filter(Boolean);
  if (terms.length > SEARCH_TERMS_MAX) return { ok: false, message: `q: at most ${SEARCH_TERMS_MAX} words` };
  const phrase = (t: string) => `"${t.replace(/"/g, '""')}"`;
  const long = terms.filter((t) => [...t].length >= 3);
  const short = terms.filter((t) => [...t].length < 3);
  // A short term of CJK characters must match as a gram; a short Latin term must match a whole word.
  const shortPhrases = short.map((t) => (CJK.test(t) ? phrase([...t].join("")) : phrase(t)));
  return {
    ok: true,
    trigram: long.length > 0 ? long.map(phrase).join(" AND ") : null,
    grams: shortPhrases.length > 0 ? shortPhrases.join(" AND ") : null,
    terms,
  };
}

/** A snippet of `text` around the first term found, with matches wrapped in <mark>…</mark>. */
export function snippetOf(text: string, terms: readonly string[], width = 64): string {
  const lower = text.toLowerCase();
  let first = -1;
  for (const t of terms) {
    const at = lower.indexOf(t.toLowerCase());
    if (at >= 0 && (first < 0 || at < first)) first = at;
  }
  const start = Math.max(0, first < 0 ? 0 : first - Math.floor(width / 3));
  const end = Math.min(text.length, start + width);
  let window = text.slice(start, end);
  for (const t of [...terms].sort((a, b) => b.length - a.length)) {
    if (!t) continue;
    const re = new RegExp(t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "giu");
    window = window.replace(re, (m) => `\u0001${m}\u0002`);
  }
  window = window.replace(/\u0001/g, "<mark>").replace(/\u0002/g, "</mark>");
  return `${start > 0 ? "…" : ""}${window}${end < text.length ? "…" : ""}`;
}
