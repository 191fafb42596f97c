import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClientFrameSchema, parseClientFrame } from "../../src/protocol/frames";

/** What the schema alone answers for a frame's text: the reference the hand-checked send path must match. */
function bySchema(raw: string) {
  const parsed = ClientFrameSchema.safeParse(JSON.parse(raw));
  return parsed.success ? { ok: true, frame: parsed.data } : { ok: false };
}

const value = fc.oneof(fc.constant(undefined), fc.integer({ min: -2, max: 3 }), fc.double(), fc.string({ maxLength: 3 }), fc.boolean(), fc.constant(null), fc.object({ maxDepth: 1 }));

describe("client frames", () => {
  it("answers every send frame exactly as the schema does", () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            type: fc.constant("send"),
            clientId: fc.oneof(value, fc.string({ minLength: 0, maxLength: 130 })),
            kind: fc.oneof(value, fc.constantFrom("text", "image")),
            body: value,
            replyTo: value,
            extra: value,
          },
          { requiredKeys: ["type"] },
        ),
        (frame) => {
          const raw = JSON.stringify(frame);
          const parsed = parseClientFrame(raw);
          const expected = bySchema(raw);
          expect(parsed.ok).toBe(expected.ok);
          if (parsed.ok && expected.ok) expect(parsed.frame).toStrictEqual(expected.frame);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("keeps what a send frame says and drops unknown keys", () => {
    const parsed = parseClientFrame(JSON.stringify({ type: "send", clientId: "c1", kind: "text", body: { text: "hi" }, replyTo: 3, extra: 1 }));
    expect(parsed).toStrictEqual({ ok: true, frame: { type: "send", clientId: "c1", kind: "text", body: { text: "hi" }, replyTo: 3 } });
  });

  it("names the field at fault when a send frame is wrong", () => {
    const parsed = parseClientFrame(JSON.stringify({ type: "send", clientId: "c1", kind: "text", body: {}, replyTo: 0 }));
    expect(parsed).toMatchObject({ ok: false, code: "invalid_request", clientId: "c1" });
    expect(parsed.ok ? "" : parsed.message).toMatch(/replyTo/);
  });

  it("counts UTF-8 bytes only for frames that could be over the limit", () => {
    const cjk = "续".repeat(11_000); // 11,000 UTF-16 units, 33,000 UTF-8 bytes: over 32 KiB
    expect(parseClientFrame(JSON.stringify({ type: "send", clientId: "c", kind: "text", body: { text: cjk } }))).toMatchObject({ ok: false, code: "too_large", clientId: "c" });
    const ascii = "a".repeat(11_000);
    expect(parseClientFrame(JSON.stringify({ type: "send", clientId: "c", kind: "text", body: { text: ascii } })).ok).toBe(true);
  });
});
