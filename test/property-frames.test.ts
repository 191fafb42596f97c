import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { join, openChannel } from "./helpers";
import { arbitraryOf, deepJson, hostileJson, hostileString, nearlyValid } from "./arbitraries";
import { DEEP_ARRAY, expectLogIntact, fixture, FRAME_BATCH, FRAME_RUNS, holds, HTTP_BATCH, HTTP_RUNS } from "./fuzz";
import { ClientFrameSchema } from "../src/protocol/frames";
import { BODY_SCHEMAS, SENDABLE_KINDS } from "../src/domain/kinds";

/**
 * Property: any frame on a conversation socket or a device channel, generated from the frame and body
 * schemas (valid, broken in one field, or hostile text and binary), gets at most an error frame, never
 * internal_error; the sockets stay open; afterwards the log is whole and readable by every member.
 */

const frameText: fc.Arbitrary<string | ArrayBuffer> = fc.oneof(
  { weight: 6, arbitrary: nearlyValid(ClientFrameSchema).map((v) => JSON.stringify(v) ?? "null") },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("send"), clientId: fc.string({ minLength: 1, maxLength: 6 }), kind: fc.constantFrom(...SENDABLE_KINDS), body: hostileJson }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...SENDABLE_KINDS), fc.string({ minLength: 1, maxLength: 6 })).chain(([kind, clientId]) => arbitraryOf(BODY_SCHEMAS[kind as keyof typeof BODY_SCHEMAS]).map((body) => JSON.stringify({ type: "send", clientId, kind, body }))) },
  { weight: 1, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.constantFrom(DEEP_ARRAY, deepJson(3_000, "object"), `{"type":"send","clientId":"big","kind":"text","body":{"text":"${"x".repeat(40_000)}"}}`, '{"type":"__proto__"}', '{"__proto__":{"type":"ping"}}', '{"type":"ping","__proto__":{"type":"send"}}') },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 16 }).map((bytes) => bytes.slice().buffer) },
);

describe("property: any frame on a conversation socket or a device channel", () => {
  it("gets at most an error frame, never internal_error, and the socket stays open", async () => {
    const f = await fixture();
    const alice = (await join(f.frameRoom, f.tokens.alice!)).socket;
    const bob = (await join(f.frameRoom, f.tokens.bob!)).socket;
    const channel = await openChannel(f.tokens.alice!, "fuzz");
    let sent = 0;
    const internalErrors = (frames: { type: string; code?: string }[]) => frames.filter((fr) => fr.type === "error" && fr.code === "internal_error");
    await holds(
      fc.asyncProperty(fc.array(fc.tuple(frameText, fc.nat(9)), { minLength: FRAME_BATCH, maxLength: FRAME_BATCH }), async (frames) => {
        for (const [frame, target] of frames) {
          (target === 0 ? channel : target === 1 ? bob : alice).ws.send(frame);
        }
        sent += frames.length;
        // A barrier per socket: a ping the objects answer themselves (not the runtime's exact-text auto-reply).
        const seen = [...(await alice.drain()), ...(await bob.drain()), ...(await channel.drain())] as { type: string; code?: string }[];
        expect(internalErrors(seen)).toEqual([]);
        expect(alice.closed).toBeUndefined();
        expect(bob.closed).toBeUndefined();
        expect(channel.closed).toBeUndefined();
      }),
      FRAME_RUNS,
    );
    expect(sent).toBeGreaterThanOrEqual(FRAME_BATCH * FRAME_RUNS);
    expect(sent + HTTP_BATCH * HTTP_RUNS).toBeGreaterThanOrEqual(10_000);
    alice.close();
    bob.close();
    channel.close();
    await expectLogIntact(f, f.frameRoom);
  }, 150_000);
});
