import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { expect } from "vitest";
import { api, BASE, createGroup, join, sendHttp, setupTenant } from "./helpers";
import { deepJson } from "./arbitraries";
import { roomName } from "../src/protocol/ids";
import type { IssuedToken, MessagesPage } from "./responses";

/**
 * Shared by the property tests (property-http, property-frames): a fixture of two tenants, the
 * log-integrity check, and a runner that reports a failure by its seed.
 */

/** Generated inputs per CI run, over both property files: at least 10,000 in all. */
export const HTTP_BATCH = 25;
export const HTTP_RUNS = 200;
export const FRAME_BATCH = 50;
export const FRAME_RUNS = 100;

export const DEEP_ARRAY = deepJson(5_000, "array");
export const DEEP_OBJECT = deepJson(20_000, "object");
export const OVERSIZE = "x".repeat(70_000);

/** Run a property; on failure, report the seed (to replay it) and the first failing assertion, not the whole batch. */
export async function holds<T>(property: fc.IAsyncProperty<T>, numRuns: number): Promise<void> {
  const details = await fc.check(property, { numRuns, endOnFailure: true });
  if (details.failed) {
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`property failed (replay with seed ${details.seed}, path "${details.counterexamplePath}"): ${cause.slice(0, 2_000)}`);
  }
}

export interface Fixture {
  tenantKey: string;
  tokens: Record<string, string>;
  otherKey: string;
  otherToken: string;
  httpRoom: string;
  frameRoom: string;
  otherRoom: string;
  attachmentId: string;
  tenantId: string;
  otherTenantId: string;
}

/** Every seq of the conversation, read from its object: must be 1..n. */
export async function storedSeqs(tenantId: string, conversationId: string): Promise<{ seqs: number[]; members: string[] }> {
  return runInDurableObject(env.ROOMS.getByName(roomName(tenantId, conversationId)), async (_instance, state) => ({
    seqs: state.storage.sql.exec<{ seq: number }>("SELECT seq FROM messages ORDER BY seq").toArray().map((r) => r.seq),
    members: state.storage.sql.exec<{ user_id: string }>("SELECT user_id FROM members WHERE active = 1").toArray().map((r) => r.user_id),
  }));
}

/** The log is gapless, and every member who has a token can page through all of it with HTTP 200. */
export async function expectLogIntact(f: Fixture, conversationId: string): Promise<void> {
  const { seqs, members } = await storedSeqs(f.tenantId, conversationId);
  expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  expect(seqs.length).toBeGreaterThan(0);
  for (const member of members) {
    // Fresh tokens: the fuzzed routes include revoking a person's tokens and deactivating them.
    const token = member === "bot" ? f.tenantKey : await freshToken(f, member);
    if (!token) continue;
    let after = 0;
    for (;;) {
      const page = await api<MessagesPage>("GET", `/v1/conversations/${conversationId}/messages?after=${after}&limit=200`, { token });
      expect(page.status, `${member}: ${JSON.stringify(page.body)}`).toBe(200);
      const got = (page.body.messages as { seq: number }[]).map((m) => m.seq);
      expect([...got].sort((a, b) => a - b)).toEqual(got);
      if (got.length === 0) break;
      after = got[got.length - 1]!;
    }
    // A person also replays the tail over a socket (the tenant key cannot ride in a socket URL).
    if (member === "bot") continue;
    const { socket } = await join(conversationId, token, { after: Math.max(0, seqs.length - 5) });
    socket.close();
  }
}

/** A new token for a fixture person (reactivated first if the fuzzer deactivated them); undefined for others. */
async function freshToken(f: Fixture, userId: string): Promise<string | undefined> {
  if (!f.tokens[userId]) return undefined;
  let issued = await api<IssuedToken>("POST", `/v1/users/${userId}/tokens`, { token: f.tenantKey, body: {} });
  if (issued.status === 403) {
    await api("POST", `/v1/users/${userId}/reactivate`, { token: f.tenantKey });
    issued = await api<IssuedToken>("POST", `/v1/users/${userId}/tokens`, { token: f.tenantKey, body: {} });
  }
  expect(issued.status, JSON.stringify(issued.body)).toBe(201);
  return issued.body.token as string;
}

export async function fixture(): Promise<Fixture> {
  const a = await setupTenant(["alice", "bob", "carol"]);
  const b = await setupTenant(["dave"]);
  const httpRoom = await createGroup(a.tokens.alice!, ["bob"], "Fuzzed over HTTP");
  const frameRoom = await createGroup(a.tokens.alice!, ["bob"], "Fuzzed over sockets");
  const otherRoom = await createGroup(b.tokens.dave!, [], "Other tenant");
  await sendHttp(a.tokens.alice!, httpRoom, "seed", "hello");
  await sendHttp(a.tokens.alice!, frameRoom, "seed", "hello");
  const upload = await exports.default.fetch(`${BASE}/v1/conversations/${httpRoom}/attachments?name=a.pdf`, {
    method: "POST",
    headers: { authorization: `Bearer ${a.tokens.alice!}`, "content-type": "application/pdf" },
    body: "%PDF-1.7\n%%EOF\n",
  });
  expect(upload.status).toBe(201);
  const attachmentId = ((await upload.json()) as { id: string }).id;
  return {
    tenantKey: a.apiKey,
    tokens: a.tokens,
    otherKey: b.apiKey,
    otherToken: b.tokens.dave!,
    httpRoom,
    frameRoom,
    otherRoom,
    attachmentId,
    tenantId: a.tenantId,
    otherTenantId: b.tenantId,
  };
}

