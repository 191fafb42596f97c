/**
 * JSON values: what message bodies are made of, and what crosses RPC without loss. Nesting is bounded
 * (a message body nests at most four levels, which its kind's schema checks) because the runtime's
 * RPC types walk every result and cannot walk a type that recurses without end.
 */
export type JsonValue = JsonLevel<8>;
/** A JSON object; a key whose value is undefined is absent (JSON.stringify leaves it out). */
export type JsonObject = { [key: string]: JsonLevel<7> | undefined };

type JsonPrimitive = string | number | boolean | null;
type Shallower = [never, 0, 1, 2, 3, 4, 5, 6, 7];
type JsonLevel<D extends number> = [D] extends [0]
  ? JsonPrimitive
  : JsonPrimitive | JsonLevel<Shallower[D]>[] | { [key: string]: JsonLevel<Shallower[D]> | undefined };

/** Is `value` a JSON value nested at most `depth` levels (what JsonValue describes)? */
export function isJsonValue(value: unknown, depth = 8): value is JsonValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (depth <= 0 || typeof value !== "object") return false;
  if (Array.isArray(value)) return value.every((v) => isJsonValue(v, depth - 1));
  return Object.values(value).every((v) => v === undefined || isJsonValue(v, depth - 1));
}

/** Is `value` a JSON object (not an array) within JsonObject's nesting? */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) && isJsonValue(value, 8);
}

/** Parse text this service wrote as a JSON object; a broken invariant (not an object) throws. */
export function parseStoredObject(text: string, what: string): JsonObject {
  const value: unknown = JSON.parse(text);
  if (!isJsonObject(value)) throw new Error(`${what} is not a JSON object`);
  return value;
}

/** Parse text this service wrote as a JSON array of strings; a broken invariant throws. */
export function parseStoredStrings(text: string, what: string): string[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw new Error(`${what} is not a JSON array of strings`);
  return value;
}

/** Parse text this service wrote as a JSON array of some of `allowed`; a broken invariant throws. */
export function parseStoredMembers<T extends string>(text: string, allowed: readonly T[], what: string): T[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every((v) => isOneOf(allowed, v))) throw new Error(`${what} is not a JSON array of ${allowed.join(" | ")}`);
  return value;
}

/** Is `value` one of `allowed`? */
export function isOneOf<T extends string>(allowed: readonly T[], value: unknown): value is T {
  return allowed.some((a) => a === value);
}
