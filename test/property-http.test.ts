import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { z } from "zod";
import { describe, expect, it } from "vitest";
import { ADMIN, BASE } from "./helpers";
import { encodeSegment, hostileJson, hostileNumber, hostileString, nearlyValid } from "./arbitraries";
import { fillPath, routeTable, type RouteSpec } from "./routes";
import { DEEP_ARRAY, DEEP_OBJECT, expectLogIntact, fixture, holds, HTTP_BATCH, HTTP_RUNS, OVERSIZE, type Fixture } from "./fuzz";
import { BODY_SCHEMAS, SENDABLE_KINDS } from "../src/domain/kinds";

/**
 * Property: any HTTP request to any route, generated from the app's route table (every method and path,
 * each parameter drawn from real ids, foreign ids and hostile strings), with bodies drawn from the body
 * schemas and hostile JSON, is answered with success or the error envelope: never 5xx. Afterwards the
 * conversation's log is whole and readable by every member.
 */

/** Every field any route reads from a JSON body, with the types they take: one soup all bodies are drawn from. */
const RequestFields = z.object({
  clientId: z.string().min(1).max(8).optional(),
  kind: z.enum([...SENDABLE_KINDS, "system"]).optional(),
  body: z.unknown().optional(),
  replyTo: z.number().int().min(1).max(5).optional(),
  seq: z.number().int().min(0).max(5).optional(),
  userIds: z.array(z.enum(["alice", "bob", "carol", "bot", "dave"])).max(3).optional(),
  role: z.enum(["owner", "admin", "member"]).optional(),
  muted: z.boolean().optional(),
  decision: z.enum(["approve", "reject"]).optional(),
  action: z.string().regex(/^[a-z]{1,8}$/).optional(),
  comment: z.string().max(20).optional(),
  type: z.enum(["direct", "group"]).optional(),
  name: z.string().max(20).optional(),
  members: z.array(z.enum(["alice", "bob", "carol"])).max(3).optional(),
  with: z.enum(["alice", "bob", "carol", "dave"]).optional(),
  url: z.enum(["http://127.0.0.1:9/x", "https://127.0.0.1.nip.io/", "https://crm.acme.io/hook"]).optional(),
  events: z.array(z.enum(["message.created", "card.action", "approval.decided"])).max(3).optional(),
  id: z.string().regex(/^[a-z]{1,6}$/).optional(),
  platform: z.enum(["webpush", "fcm", "apns", "webhook"]).optional(),
  endpoint: z.enum(["http://127.0.0.1:9/push", "https://10.0.0.1/"]).optional(),
  token: z.string().max(20).optional(),
  ttlSeconds: z.number().int().min(0).max(100_000).optional(),
  title: z.string().max(20).optional(),
  avatarUrl: z.string().max(20).optional(),
});

const messageBodies = fc.oneof(...Object.entries(BODY_SCHEMAS).map(([kind, schema]) => fc.record({ kind: fc.constant(kind), body: nearlyValid(schema) })));

const jsonBody: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 4, arbitrary: nearlyValid(RequestFields).map((v) => JSON.stringify(v)) },
  { weight: 3, arbitrary: fc.tuple(nearlyValid(RequestFields), messageBodies).map(([fields, m]) => JSON.stringify({ ...(fields as object), ...m })) },
  { weight: 1, arbitrary: hostileJson.map((v) => JSON.stringify(v) ?? "null") },
  {
    weight: 1,
    arbitrary: fc.constantFrom('{"clientId":', "{'a':1}", "[1,2,", "\u0000", "null", "1e999", "{}".repeat(3), '{"__proto__":{"admin":true}}', DEEP_ARRAY, DEEP_OBJECT, OVERSIZE),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

function paramArbitrary(f: Fixture, name: string): fc.Arbitrary<string> {
  const pools: Record<string, string[]> = {
    id: [f.httpRoom, f.otherRoom, "g_0123456789abcdef0123456789abcdef", "d_0123456789abcdef0123456789abcdef", "gw", "int_0123456789abcdef0123456789abcdef"],
    seq: ["1", "2", "3", "0", "-1", "1.5", "007", "99999999999999999999", "9007199254740993"],
    userId: ["alice", "bob", "carol", "bot", "dave", "nobody"],
    emoji: ["👍", ":+1:", "❤️", "👩‍💻"],
    attachmentId: [f.attachmentId, "att_0123456789abcdef0123456789abcdef"],
    tenantId: [f.tenantId, f.otherTenantId, "nope"],
    token: ["x.y", "eyJ0IjoiYSJ9.c2ln", "0123456789abcdef"],
  };
  const pool = pools[name] ?? ["x"];
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...pool).map(encodeSegment) },
    { weight: 2, arbitrary: hostileString.map(encodeSegment) },
    // Raw escapes straight into the path, malformed ones included.
    { weight: 1, arbitrary: fc.constantFrom("%ZZ", "%C0%AF", "%ED%A0%80", "%", "%25", "%2F", "..", "%2e%2e") },
  );
}

const queryArbitrary = fc.dictionary(
  fc.constantFrom("after", "before", "limit", "q", "users", "device", "name", "conversationId", "token", "__proto__"),
  fc.oneof(fc.constantFrom("0", "1", "50", "200", "201", "-1", "alice,bob", "hello", "d1"), hostileString, hostileNumber.map(String)),
  { maxKeys: 3 },
);

function credentialArbitrary(f: Fixture): fc.Arbitrary<string | undefined> {
  return fc.constantFrom(f.tokens.alice, f.tokens.bob, f.tokens.carol, f.tenantKey, f.otherKey, f.otherToken, ADMIN, "garbage", "a.b.c", undefined);
}

interface HttpInput {
  route: RouteSpec;
  path: string;
  query: Record<string, string>;
  credential: string | undefined;
  body: string | undefined;
  contentType: string;
  upgrade: boolean;
}

function httpInput(f: Fixture, routes: RouteSpec[]): fc.Arbitrary<HttpInput> {
  return fc.constantFrom(...routes).chain((route) =>
    fc.record({
      route: fc.constant(route),
      path: fc.tuple(...route.params.map((p) => paramArbitrary(f, p))).map((values) => {
        const byName = new Map(route.params.map((p, i) => [p, values[i] as string]));
        return fillPath(route, (p) => byName.get(p) ?? "x");
      }),
      query: queryArbitrary,
      credential: credentialArbitrary(f),
      body: jsonBody,
      contentType: fc.constantFrom("application/json", "application/json", "text/plain", "image/png", "application/x-www-form-urlencoded"),
      upgrade: fc.boolean().map((b) => b && route.path.endsWith("/ws")),
    }),
  );
}

async function perform(input: HttpInput): Promise<{ status: number; text: string }> {
  const url = new URL(`${BASE}${input.path}`);
  for (const [k, v] of Object.entries(input.query)) url.searchParams.set(k, v);
  const headers: Record<string, string> = { "content-type": input.contentType };
  if (input.credential !== undefined) headers.authorization = `Bearer ${input.credential}`;
  if (input.upgrade) headers.upgrade = "websocket";
  const body = input.route.method !== "GET" && input.route.method !== "HEAD" ? input.body : undefined;
  // A URL object would re-encode; the raw string keeps malformed escapes as generated.
  const raw = `${BASE}${input.path}${url.search}`;
  const res = await exports.default.fetch(raw, { method: input.route.method, headers, ...(body !== undefined ? { body } : {}) });
  if (res.webSocket) {
    res.webSocket.accept();
    res.webSocket.close(1000, "done");
    return { status: res.status, text: "" };
  }
  return { status: res.status, text: await res.text() };
}

function describeInput(input: HttpInput): string {
  return `${input.route.method} ${input.path} query=${JSON.stringify(input.query)} body=${(input.body ?? "").slice(0, 200)}`;
}

describe("property: any HTTP request to any route", () => {
  it("is answered with the error envelope or success, never 5xx, and leaves the log intact", async () => {
    const f = await fixture();
    const routes = routeTable();
    expect(routes.length).toBeGreaterThan(30);
    let performed = 0;
    await holds(
      fc.asyncProperty(fc.array(httpInput(f, routes), { minLength: HTTP_BATCH, maxLength: HTTP_BATCH }), async (inputs) => {
        const results = await Promise.all(inputs.map(perform));
        performed += inputs.length;
        results.forEach((r, i) => {
          const what = describeInput(inputs[i]!);
          expect(r.status, `${what} -> ${r.text.slice(0, 300)}`).toBeLessThan(500);
          if (r.status >= 400) {
            const body = JSON.parse(r.text) as { error?: { code?: string; message?: string } };
            expect(typeof body.error?.message, what).toBe("string");
            expect(body.error?.code, what).not.toBe("internal_error");
          }
        });
      }),
      HTTP_RUNS,
    );
    expect(performed).toBeGreaterThanOrEqual(HTTP_BATCH * HTTP_RUNS);
    await expectLogIntact(f, f.httpRoom);
  }, 150_000);
});

