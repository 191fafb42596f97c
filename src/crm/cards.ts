/** The bounded-text and card checks every CRM ingress adapter applies to what it emits. */

import { CrmCardBody, describeIssue } from "../domain/kinds";
import type { CrmCard } from "./types";

/**
 * Trim and bound a string to `max` UTF-16 units (the unit zod's `max` counts), ending with "…" when cut
 * and never splitting a surrogate pair. Empty after trimming → undefined.
 */
export function clip(value: string, max: number): string | undefined {
  const text = value.trim();
  if (text === "") return undefined;
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end).trimEnd()}…`;
}

/** `clip` for a value of unknown type: strings only, numbers and booleans stringified. */
export function clipUnknown(value: unknown, max: number): string | undefined {
  if (typeof value === "string") return clip(value, max);
  if ((typeof value === "number" && Number.isFinite(value)) || typeof value === "boolean") return clip(String(value), max);
  return undefined;
}

/** Bounds shared by every adapter (CrmCardBody in src/domain/kinds.ts, plus the Slack text field). */
export const CARD_LIMITS = {
  title: 500,
  party: 500,
  stage: 200,
  field: 200,
  fields: 100,
  objectType: 64,
  event: 64,
  objectId: 256,
  deliveryId: 256,
  url: 2048,
  text: 8000,
} as const;

/** An absolute http(s) URL within the card limit, or undefined (cards never carry other schemes). */
export function httpUrl(value: string | undefined): string | undefined {
  if (value === undefined || value.length > CARD_LIMITS.url) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** {@link clip} for a field every card carries: blank text stays "", which {@link cardProblem} refuses. */
export function clipRequired(value: string, max: number): string {
  return clip(value, max) ?? "";
}

/** Optional properties without `undefined` values (exactOptionalPropertyTypes). */
export function definedOnly<T extends object>(fields: { [K in keyof T]?: T[K] | undefined }): Partial<T> {
  // Object.fromEntries types its result by string keys alone; the entries kept are `fields`' own.
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Why the card would fail `CrmCardBody` (src/domain/kinds.ts), or undefined when it passes; adapters call
 * it on every card so that what they emit always posts. Fields the schema does not know (Slack's `text`)
 * are dropped by it, not refused.
 */
export function cardProblem(card: CrmCard): string | undefined {
  const checked = CrmCardBody.safeParse(card);
  return checked.success ? undefined : describeIssue(checked.error, "card");
}
