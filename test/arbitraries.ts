import fc from "fast-check";
import type { z } from "zod";

/**
 * Generators for property tests: values built from the zod schemas the server validates with, and
 * hostile values meant to break whatever a handler does with them.
 */

/** Strings that have broken (or could break) code that uses them as keys, paths, numbers or SQL. */
export const HOSTILE_STRINGS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "__defineGetter__",
  "%ZZ",
  "%C0%AF",
  "%ED%A0%80",
  "%",
  "%25",
  "%00",
  "\uD800",
  "\uDFFF",
  "a\uD800b",
  "\u0000",
  "\u202E",
  "\uFEFF",
  "👍",
  "👩‍💻",
  "1e400",
  "-1",
  "0",
  "NaN",
  "Infinity",
  "9007199254740993",
  "99999999999999999999999",
  "0x10",
  "..",
  ".",
  "../../etc/passwd",
  "' OR 1=1; --",
  '"); DROP TABLE messages; --',
  "<script>alert(1)</script>",
  "javascript:alert(1)",
  "g_00000000000000000000000000000000",
  "d_ffffffffffffffffffffffffffffffff",
  "bot",
  "null",
  "undefined",
  "true",
  "",
  " ",
] as const;

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom(70, 300, 5000, 40_000).map((n) => "x".repeat(n)) },
);

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -0, -1, 0.5, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 2 ** 31, 2 ** 63, 1e-300, Number.MAX_VALUE, Number.MIN_SAFE_INTEGER),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** JSON text nested `depth` levels deep, as arrays or objects. */
export function deepJson(depth: number, shape: "array" | "object"): string {
  return shape === "array" ? `${"[".repeat(depth)}1${"]".repeat(depth)}` : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}

/** An object with an own `__proto__` key, as JSON.parse makes one (a literal would set the prototype instead). */
export const protoObject: fc.Arbitrary<unknown> = fc
  .constantFrom('{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '{"__proto__":null,"x":1}')
  .map((text) => JSON.parse(text) as unknown);

/** Any JSON value, with hostile leaves and keys mixed in. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    hostileString,
    hostileNumber,
    fc.boolean(),
    fc.constant(null),
    protoObject,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(hostileString, fc.string({ maxLength: 8 })), tie("value"), { maxKeys: 4 }),
  ),
})).value;

interface ZodInternals {
  _zod: { def: Record<string, unknown> & { type: string } };
}

function defOf(schema: unknown): Record<string, unknown> & { type: string } {
  return (schema as ZodInternals)._zod.def;
}

type CheckDef = { check: string; minimum?: number; maximum?: number; value?: number; inclusive?: boolean; format?: string; pattern?: RegExp };

function checksOf(def: Record<string, unknown>): CheckDef[] {
  return ((def.checks as { _zod: { def: CheckDef } }[] | undefined) ?? []).map((c) => c._zod.def);
}

/**
 * Values shaped by a zod schema: most of them valid, so generated inputs get past the first check and
 * reach deeper code. Covers the schema features the protocol uses; anything else becomes hostile JSON.
 */
export function arbitraryOf(schema: z.ZodType | unknown): fc.Arbitrary<unknown> {
  const def = defOf(schema);
  const checks = checksOf(def);
  switch (def.type) {
    case "string": {
      const min = checks.find((c) => c.check === "min_length")?.minimum ?? 0;
      const max = checks.find((c) => c.check === "max_length")?.maximum ?? 40;
      const regex = checks.find((c) => c.check === "string_format" && c.format === "regex")?.pattern;
      if (regex) return fc.stringMatching(regex).filter((s) => s.length >= min && s.length <= max);
      return fc.string({ minLength: Math.max(min, 0), maxLength: Math.min(max, Math.max(min, 0) + 40) }).filter((s) => s.trim().length >= min);
    }
    case "number": {
      const low = checks.find((c) => c.check === "greater_than");
      const high = checks.find((c) => c.check === "less_than");
      const int = checks.some((c) => c.check === "number_format");
      const min = low?.value === undefined ? -1e6 : low.value + (low.inclusive ? 0 : 1);
      const max = high?.value === undefined ? 1e6 : high.value - (high.inclusive ? 0 : 1);
      return int ? fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31) }) : fc.double({ min, max, noNaN: true });
    }
    case "boolean":
      return fc.boolean();
    case "literal":
      return fc.constantFrom(...(def.values as unknown[]));
    case "enum":
      return fc.constantFrom(...Object.values(def.entries as Record<string, unknown>));
    case "optional":
      return fc.option(arbitraryOf(def.innerType), { nil: undefined });
    case "default":
      return fc.option(arbitraryOf(def.innerType), { nil: undefined });
    case "pipe":
      return arbitraryOf(def.in);
    case "array": {
      const max = checks.find((c) => c.check === "max_length")?.maximum ?? 4;
      const min = checks.find((c) => c.check === "min_length")?.minimum ?? 0;
      return fc.array(arbitraryOf(def.element), { minLength: min, maxLength: Math.min(max, min + 4) });
    }
    case "union":
      return fc.oneof(...(def.options as unknown[]).map(arbitraryOf));
    case "object": {
      const shape = def.shape as Record<string, unknown>;
      const fields = Object.fromEntries(Object.entries(shape).map(([key, value]) => [key, arbitraryOf(value)]));
      return fc.record(fields).map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
    }
    default:
      return hostileJson;
  }
}

/** A value of the schema, or that value broken in one place: a field replaced, dropped or joined by a hostile key. */
export function nearlyValid(schema: z.ZodType | unknown): fc.Arbitrary<unknown> {
  const valid = arbitraryOf(schema);
  return fc.oneof(
    { weight: 3, arbitrary: valid },
    {
      weight: 3,
      arbitrary: fc.tuple(valid, fc.nat(), fc.oneof(hostileString, hostileNumber, hostileJson, fc.constant(undefined))).map(([value, pick, replacement]) => {
        if (typeof value !== "object" || value === null || Array.isArray(value)) return replacement;
        const copy = { ...(value as Record<string, unknown>) };
        const keys = Object.keys(copy);
        const key = keys.length === 0 ? "x" : keys[pick % keys.length]!;
        if (replacement === undefined) delete copy[key];
        else copy[key] = replacement;
        return copy;
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(valid, fc.constantFrom("__proto__", "constructor", "prototype"), hostileJson).map(([value, key, extra]) => {
        if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
        // defineProperty: an own key named __proto__, as JSON.parse would create it.
        return Object.defineProperty({ ...(value as Record<string, unknown>) }, key, { value: extra, enumerable: true, configurable: true, writable: true });
      }),
    },
  );
}

/** Percent-encode any JS string for a path segment, lone surrogates included (as their WTF-8 bytes, which no decoder accepts). */
export function encodeSegment(value: string): string {
  let out = "";
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) {
      out += `%${(0xe0 | (code >> 12)).toString(16).toUpperCase()}%${(0x80 | ((code >> 6) & 0x3f)).toString(16).toUpperCase()}%${(0x80 | (code & 0x3f)).toString(16).toUpperCase()}`;
    } else {
      out += encodeURIComponent(char);
    }
  }
  return out;
}
