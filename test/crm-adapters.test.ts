import { describe, expect, it } from "vitest";
import { ADAPTERS, newStandardSecret } from "../src/crm/adapters";
import { clip } from "../src/crm/cards";
import { constantTimeEqual, sha256, sha256Hex } from "../src/lib/hash";
import { base64Decode, base64Encode, toHex, utf8 } from "../src/lib/encoding";
import { hubspotSignatureUri, HUBSPOT_MAX_EVENTS } from "../src/crm/hubspot";
import { decodeXmlText, SALESFORCE_ACK, salesforceId15, sameSalesforceId } from "../src/crm/salesforce";
import { signStandardWebhook } from "../src/crm/standard";
import { INTEGRATION_KINDS, type CardEvent, type IngressRequest, type ParseResult, type VerifyContext } from "../src/crm/types";
import { CrmCardBody } from "../src/domain/kinds";

// ---------------------------------------------------------------------------------------------
// Helpers

interface RequestInit {
  body: string | Uint8Array;
  now: number;
  headers?: Record<string, string>;
  method?: string;
  url?: string;
}

function ingress(init: RequestInit): IngressRequest {
  return {
    method: init.method ?? "POST",
    url: init.url ?? "https://switchboard.example/v1/hooks/int_1",
    headers: new Headers(init.headers ?? {}),
    body: typeof init.body === "string" ? utf8(init.body) : init.body,
    now: init.now,
  };
}

/** The events of a successful parse; fails the test with the reason otherwise. */
async function eventsOf(parsed: Promise<ParseResult>): Promise<CardEvent[]> {
  const result = await parsed;
  if (!result.ok) throw new Error(`parse failed: ${result.reason}`);
  for (const event of result.events) {
    const checked = CrmCardBody.safeParse(event.card);
    expect(checked.success, JSON.stringify(checked.error?.issues)).toBe(true);
    expect(event.card.title.length).toBeLessThanOrEqual(500);
    expect(Number.isFinite(event.occurredAt)).toBe(true);
  }
  return result.events;
}

async function reasonOf(parsed: Promise<ParseResult>): Promise<string> {
  const result = await parsed;
  if (result.ok) throw new Error("expected a parse error");
  return result.reason;
}

async function hmacBase64(key: Uint8Array, data: string): Promise<string> {
  const cryptoKey = await crypto.subtle.importKey("raw", new Uint8Array(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return base64Encode(new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, utf8(data))));
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

describe("encoding and hashing helpers", () => {
  it("computes SHA-256 as FIPS 180-2's examples say, strings as their UTF-8 bytes", async () => {
    expect(await sha256Hex(utf8("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(await sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
    expect(toHex(await sha256(new Uint8Array(0)))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("round-trips base64 and refuses what is not base64", async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 251, 252, 253, 254, 255]);
    expect(base64Decode(base64Encode(bytes))).toEqual(bytes);
    expect(base64Decode("-_-_")).toEqual(base64Decode("+/+/"));
    expect(base64Decode("not base64!")).toBeUndefined();
    expect(base64Decode("abcde")).toBeUndefined();
  });

  it("compares bytes in constant time, false on a length mismatch", async () => {
    expect(constantTimeEqual(utf8("abc"), utf8("abc"))).toBe(true);
    expect(constantTimeEqual(utf8("abc"), utf8("abd"))).toBe(false);
    expect(constantTimeEqual(utf8("abc"), utf8("abcd"))).toBe(false);
  });

  it("clips text to a bound without splitting a surrogate pair", async () => {
    expect(clip("  hello  ", 10)).toBe("hello");
    expect(clip("   ", 10)).toBeUndefined();
    expect(clip("abcdefghij", 5)).toBe("abcd…");
    expect(clip(`abc${"😀".repeat(5)}`, 5)).toBe("abc…");
    expect(clip(`abc${"😀".repeat(5)}`, 6)).toBe("abc😀…");
  });

  it("has one adapter per integration kind", async () => {
    for (const kind of INTEGRATION_KINDS) expect(ADAPTERS[kind].kind).toBe(kind);
  });
});

// ---------------------------------------------------------------------------------------------
// Standard Webhooks

describe("standard adapter (Standard Webhooks v1)", () => {
  const adapter = ADAPTERS.standard;
  // PUBLISHED VECTOR, identical in every reference implementation's tests (integrations.md §5).
  const vector = {
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
    timestamp: "1614265330",
    payload: '{"test": 2432232314}',
    signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  };
  const vectorNow = Number(vector.timestamp) * 1000;
  const vectorRequest = (headers: Record<string, string> = {}, body = vector.payload, now = vectorNow) =>
    ingress({
      body,
      now,
      headers: {
        "webhook-id": vector.id,
        "webhook-timestamp": vector.timestamp,
        "webhook-signature": vector.signature,
        ...headers,
      },
    });

  it("verifies the specification's published test vector byte for byte", async () => {
    expect(await adapter.verify(vectorRequest(), { secret: vector.secret })).toEqual({ ok: true });
    expect(await signStandardWebhook(vector.secret, vector.id, vector.timestamp, utf8(vector.payload))).toBe(vector.signature);
  });

  it("accepts the secret without its whsec_ prefix", async () => {
    expect(await adapter.verify(vectorRequest(), { secret: vector.secret.slice("whsec_".length) })).toEqual({ ok: true });
  });

  it("accepts a header with several signatures when any v1 entry matches", async () => {
    const header = `v1,dawfeoifkpqwoekfpqoekf v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== ${vector.signature} v2,xyz`;
    expect(await adapter.verify(vectorRequest({ "webhook-signature": header }), { secret: vector.secret })).toEqual({ ok: true });
  });

  it("ignores signatures of other versions even when their value would match", async () => {
    const header = vector.signature.replace(/^v1,/, "v1a,");
    const result = await adapter.verify(vectorRequest({ "webhook-signature": header }), { secret: vector.secret });
    expect(result.ok).toBe(false);
  });

  it("refuses a wrong secret", async () => {
    const result = await adapter.verify(vectorRequest(), { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSX" });
    expect(result).toEqual({ ok: false, reason: "no matching v1 signature" });
  });

  it("refuses a tampered body", async () => {
    const result = await adapter.verify(vectorRequest({}, '{"test": 2432232315}'), { secret: vector.secret });
    expect(result.ok).toBe(false);
  });

  it("refuses a garbage or truncated signature", async () => {
    for (const signature of ["v1,dawfeoifkpqwoekfpqoekf", vector.signature.slice(0, 8), "v1,", "", "garbage"]) {
      const result = await adapter.verify(vectorRequest({ "webhook-signature": signature }), { secret: vector.secret });
      expect(result.ok, signature).toBe(false);
    }
  });

  it("refuses timestamps more than five minutes old or ahead, and accepts the edges", async () => {
    const context = { secret: vector.secret };
    expect(await adapter.verify(vectorRequest({}, vector.payload, vectorNow + 300_000), context)).toEqual({ ok: true });
    expect(await adapter.verify(vectorRequest({}, vector.payload, vectorNow - 300_000), context)).toEqual({ ok: true });
    expect(await adapter.verify(vectorRequest({}, vector.payload, vectorNow + 301_000), context)).toEqual({
      ok: false,
      reason: "webhook-timestamp is too old",
    });
    expect(await adapter.verify(vectorRequest({}, vector.payload, vectorNow - 301_000), context)).toEqual({
      ok: false,
      reason: "webhook-timestamp is too new",
    });
  });

  it("refuses timestamps that are not integer seconds", async () => {
    for (const timestamp of ["hello", "161426533.0", "-161426533", "1614265330000000000"]) {
      const result = await adapter.verify(vectorRequest({ "webhook-timestamp": timestamp }), { secret: vector.secret });
      expect(result.ok, timestamp).toBe(false);
    }
  });

  it("refuses a delivery missing any of the three headers", async () => {
    for (const missing of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
      const request = vectorRequest();
      request.headers.delete(missing);
      const result = await adapter.verify(request, { secret: vector.secret });
      expect(result.ok, missing).toBe(false);
    }
  });

  it("refuses when the integration has no usable secret, without throwing", async () => {
    for (const context of [{}, { secret: "" }, { secret: "whsec_" }, { secret: "whsec_!!!" }] as VerifyContext[]) {
      const result = await adapter.verify(vectorRequest(), context);
      expect(result.ok).toBe(false);
    }
  });

  it("generates whsec_ secrets of 24 random bytes that sign and verify", async () => {
    const secret = newStandardSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(base64Decode(secret.slice(6))?.length).toBe(24);
    expect(newStandardSecret()).not.toBe(secret);
    const now = Date.UTC(2026, 0, 15, 12);
    const timestamp = String(now / 1000);
    const body = '{"type":"lead.created","data":{"id":"L1","title":"Acme"}}';
    const signature = await signStandardWebhook(secret, "msg_1", timestamp, utf8(body));
    const request = ingress({ body, now, headers: { "webhook-id": "msg_1", "webhook-timestamp": timestamp, "webhook-signature": signature } });
    expect(await adapter.verify(request, { secret })).toEqual({ ok: true });
    expect(await adapter.verify(request, { secret: newStandardSecret() })).toMatchObject({ ok: false });
  });

  describe("parse", () => {
    const now = Date.UTC(2026, 0, 15, 12);
    const parse = (body: unknown, id = "msg_1") =>
      adapter.parse(ingress({ body: typeof body === "string" ? body : JSON.stringify(body), now, headers: { "webhook-id": id } }));

    it("maps an opportunity stage change to one card keyed by webhook-id", async () => {
      const events = await eventsOf(
        parse({
          type: "opportunity.stage_changed",
          data: {
            id: "OPP-7",
            title: "  Acme renewal  ",
            company: "Acme",
            contact: "Jane Doe",
            owner: "u_alice",
            amount: 125000.5,
            currency: "eur",
            stage: "Negotiation",
            url: "https://crm.example/opp/7",
            changedFields: ["stage"],
          },
          timestamp: "2026-01-15T11:59:00Z",
        }),
      );
      expect(events).toEqual([
        {
          deliveryId: "msg_1",
          occurredAt: Date.UTC(2026, 0, 15, 11, 59),
          card: {
            source: "standard",
            objectType: "opportunity",
            objectId: "OPP-7",
            event: "opportunity.stage_changed",
            title: "Acme renewal",
            company: "Acme",
            contact: "Jane Doe",
            owner: "u_alice",
            amount: 125000.5,
            currency: "EUR",
            stage: "Negotiation",
            url: "https://crm.example/opp/7",
            changedFields: ["stage"],
          },
        },
      ]);
    });

    it("maps each event type to its object type", async () => {
      const expected = {
        "lead.created": "lead",
        "lead.updated": "lead",
        "opportunity.created": "opportunity",
        "opportunity.stage_changed": "opportunity",
        "customer.updated": "customer",
      };
      for (const [type, objectType] of Object.entries(expected)) {
        const [event] = await eventsOf(parse({ type, data: { id: 42, title: "T" } }));
        expect(event?.card).toEqual({ source: "standard", objectType, objectId: "42", event: type, title: "T" });
      }
    });

    it("takes occurredAt from a ms timestamp, an ISO timestamp, or the receive time", async () => {
      const at = async (timestamp?: unknown) => (await eventsOf(parse({ type: "lead.created", data: { id: "1", title: "T" }, timestamp })))[0]?.occurredAt;
      expect(await at(1_700_000_000_000)).toBe(1_700_000_000_000);
      expect(await at("2026-01-01T00:00:00.000Z")).toBe(Date.UTC(2026, 0, 1));
      expect(await at()).toBe(now);
      expect(await reasonOf(parse({ type: "lead.created", data: { id: "1", title: "T" }, timestamp: "yesterday" }))).toMatch(/timestamp/);
    });

    it("bounds a long title to 500 characters", async () => {
      const [event] = await eventsOf(parse({ type: "lead.created", data: { id: "1", title: "x".repeat(5000) } }));
      expect(event?.card.title.length).toBe(500);
    });

    it("refuses an unknown type, a missing id or title, and bad field types", async () => {
      expect(await reasonOf(parse({ type: "lead.deleted", data: { id: "1", title: "T" } }))).toMatch(/^body\.type/);
      expect(await reasonOf(parse({ type: "lead.created", data: { title: "T" } }))).toMatch(/^body\.data\.id/);
      expect(await reasonOf(parse({ type: "lead.created", data: { id: "1" } }))).toMatch(/^body\.data\.title/);
      expect(await reasonOf(parse({ type: "lead.created", data: { id: "1", title: "   " } }))).toMatch(/^body\.data\.title/);
      expect(await reasonOf(parse({ type: "lead.created", data: { id: "1", title: "T", amount: "5" } }))).toMatch(/amount/);
      expect(await reasonOf(parse({ type: "lead.created", data: { id: "1", title: "T", currency: "euro" } }))).toMatch(/currency/);
      expect(await reasonOf(parse({ type: "lead.created", data: { id: "1", title: "T", owner: "not a user id!" } }))).toMatch(/owner/);
      expect(await reasonOf(parse({ type: "lead.created", data: { id: "1", title: "T", url: "javascript:alert(1)" } }))).toMatch(/url/);
      expect(await reasonOf(parse({ type: "lead.created" }))).toMatch(/data/);
      expect(await reasonOf(parse([]))).toMatch(/body/);
    });

    it("refuses a body that is not JSON or has no webhook-id, without throwing", async () => {
      expect(await reasonOf(parse("{not json"))).toBe("body: is not JSON");
      expect(await reasonOf(adapter.parse(ingress({ body: '{"type":"lead.created","data":{"id":"1","title":"T"}}', now })))).toMatch(/webhook-id/);
    });
  });

  it("answers {ok:true} and the API error envelope", async () => {
    const accepted = adapter.accepted();
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({ ok: true });
    const cases = [
      [400, "invalid_request"],
      [401, "unauthorized"],
      [404, "not_found"],
      [413, "too_large"],
    ] as const;
    for (const [status, code] of cases) {
      const response = adapter.rejected(status, "why");
      expect(response.status).toBe(status);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await response.json()).toEqual({ error: { code, message: "why" } });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// HubSpot

describe("hubspot adapter", () => {
  const adapter = ADAPTERS.hubspot;
  // PUBLISHED VECTORS (integrations.md §1.4): HubSpot FAQ and @hubspot/api-client unit tests.
  const secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
  const v1Body =
    '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]';
  const uri = "https://www.example.com/webhook_uri";
  const now = 1564113600000;

  it("verifies the published v1 vector when v1 is accepted", async () => {
    const request = ingress({
      body: v1Body,
      now,
      url: uri,
      headers: {
        "X-HubSpot-Signature": "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de",
        "X-HubSpot-Signature-Version": "v1",
      },
    });
    expect(await adapter.verify(request, { secret, hubspotVersions: ["v1"] })).toEqual({ ok: true });
    expect(await adapter.verify(request, { secret, hubspotVersions: ["v1", "v3"] })).toEqual({ ok: true });
    expect((await adapter.verify(request, { secret })).ok).toBe(false);
    expect((await adapter.verify(request, { secret: "zzzzzzzz-yyyy-yyyy-yyyy-yyyyyyyyyyyy", hubspotVersions: ["v1"] })).ok).toBe(false);
  });

  it("verifies the published v2 GET and POST vectors when v2 is accepted", async () => {
    const get = ingress({
      method: "GET",
      body: "",
      now,
      url: uri,
      headers: {
        "X-HubSpot-Signature": "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e",
        "X-HubSpot-Signature-Version": "v2",
      },
    });
    const post = ingress({
      body: '{"example_field":"example_value"}',
      now,
      url: uri,
      headers: {
        "X-HubSpot-Signature": "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900",
        "X-HubSpot-Signature-Version": "v2",
      },
    });
    for (const request of [get, post]) {
      expect(await adapter.verify(request, { secret, hubspotVersions: ["v2"] })).toEqual({ ok: true });
      expect((await adapter.verify(request, { secret, hubspotVersions: ["v1", "v3"] })).ok).toBe(false);
    }
    // v2 covers the URI exactly as called.
    const moved = { ...post, url: `${uri}?x=1` };
    expect((await adapter.verify(moved, { secret, hubspotVersions: ["v2"] })).ok).toBe(false);
  });

  const v3Request = (overrides: Partial<RequestInit> & { signature?: string; timestamp?: string } = {}) =>
    ingress({
      body: overrides.body ?? '{"example_field":"example_value"}',
      now: overrides.now ?? now,
      url: overrides.url ?? uri,
      headers: {
        "X-HubSpot-Signature-v3": overrides.signature ?? "eT0ip2TKVpsIi1vb5C2Uu42eNdHL+oTE3NRZOF67O2U=",
        "X-HubSpot-Request-Timestamp": overrides.timestamp ?? "1564113600000",
      },
    });

  it("verifies the v3 vector of integrations.md (derived: HubSpot publishes none) with an injected clock", async () => {
    expect(await adapter.verify(v3Request(), { secret })).toEqual({ ok: true });
    expect(await adapter.verify(v3Request(), { secret, hubspotVersions: ["v3"] })).toEqual({ ok: true });
  });

  it("refuses v3 when the signature, body, secret or URI differ", async () => {
    expect((await adapter.verify(v3Request({ signature: "eT0ip2TKVpsIi1vb5C2Uu42eNdHL+oTE3NRZOF67O2A=" }), { secret })).ok).toBe(false);
    expect((await adapter.verify(v3Request({ body: '{"example_field":"other"}' }), { secret })).ok).toBe(false);
    expect((await adapter.verify(v3Request(), { secret: "other" })).ok).toBe(false);
    expect((await adapter.verify(v3Request({ url: `${uri}2` }), { secret })).ok).toBe(false);
    expect((await adapter.verify(v3Request(), {})).ok).toBe(false);
  });

  it("refuses v3 timestamps more than five minutes off, and a missing or non-numeric one", async () => {
    expect(await adapter.verify(v3Request({ now: now + 300_000 }), { secret })).toEqual({ ok: true });
    expect((await adapter.verify(v3Request({ now: now + 300_001 }), { secret })).ok).toBe(false);
    expect((await adapter.verify(v3Request({ now: now - 300_001 }), { secret })).ok).toBe(false);
    expect((await adapter.verify(v3Request({ timestamp: "soon" }), { secret })).ok).toBe(false);
    const noTimestamp = v3Request();
    noTimestamp.headers.delete("X-HubSpot-Request-Timestamp");
    expect((await adapter.verify(noTimestamp, { secret })).ok).toBe(false);
  });

  it("refuses v3 when the integration accepts only legacy versions", async () => {
    expect((await adapter.verify(v3Request(), { secret, hubspotVersions: ["v1"] })).ok).toBe(false);
  });

  it("tolerates a v3 signature whose '+' a proxy turned into a space", async () => {
    const mangled = "eT0ip2TKVpsIi1vb5C2Uu42eNdHL oTE3NRZOF67O2U=";
    expect(await adapter.verify(v3Request({ signature: mangled }), { secret })).toEqual({ ok: true });
  });

  it("decodes only HubSpot's listed escapes in the v3 URI", async () => {
    expect(hubspotSignatureUri("https://h.example/a%3Ab%2fc%3F%40%21%24%27%28%29%2A%2C%3B?q=%20%2B%26%3d")).toBe(
      "https://h.example/a:b/c?@!$'()*,;?q=%20%2B%26%3d",
    );
    const url = "https://hooks.example/v1/hooks/int%3A1?next=%2Fx%20y";
    const timestamp = String(now);
    const body = "[]";
    const signature = await hmacBase64(utf8(secret), `POSThttps://hooks.example/v1/hooks/int:1?next=/x%20y${body}${timestamp}`);
    expect(await adapter.verify(v3Request({ url, body, signature, timestamp }), { secret })).toEqual({ ok: true });
  });

  describe("parse", () => {
    const parse = (body: unknown) => adapter.parse(ingress({ body: typeof body === "string" ? body : JSON.stringify(body), now }));
    // HubSpot's documented example (integrations.md §1.5).
    const documented = [
      {
        objectId: 1246965,
        propertyName: "lifecyclestage",
        propertyValue: "subscriber",
        changeSource: "ACADEMY",
        eventId: 3816279340,
        subscriptionId: 25,
        portalId: 33,
        appId: 1160452,
        occurredAt: 1462216307945,
        subscriptionType: "contact.propertyChange",
        attemptNumber: 0,
      },
      {
        objectId: 1246978,
        changeSource: "IMPORT",
        eventId: 3816279480,
        subscriptionId: 22,
        portalId: 33,
        appId: 1160452,
        occurredAt: 1462216307945,
        subscriptionType: "contact.creation",
        attemptNumber: 0,
      },
    ];

    it("maps HubSpot's documented example to two lead cards", async () => {
      expect(await eventsOf(parse(documented))).toEqual([
        {
          deliveryId: "3816279340:25:1246965:1462216307945",
          occurredAt: 1462216307945,
          card: {
            source: "hubspot",
            objectType: "lead",
            objectId: "1246965",
            event: "lead.updated",
            title: "Contact 1246965",
            changedFields: ["lifecyclestage"],
            url: "https://app.hubspot.com/contacts/33/record/0-1/1246965",
          },
        },
        {
          deliveryId: "3816279480:22:1246978:1462216307945",
          occurredAt: 1462216307945,
          card: {
            source: "hubspot",
            objectType: "lead",
            objectId: "1246978",
            event: "lead.created",
            title: "Contact 1246978",
            url: "https://app.hubspot.com/contacts/33/record/0-1/1246978",
          },
        },
      ]);
    });

    it("parses the published v1 vector's body", async () => {
      const [event] = await eventsOf(adapter.parse(ingress({ body: v1Body, now })));
      expect(event?.deliveryId).toBe("1:12345:123:1564113600000");
      expect(event?.card.event).toBe("lead.created");
    });

    it("turns a deal's dealstage change into an opportunity stage card", async () => {
      const [event] = await eventsOf(
        parse([
          {
            objectId: 123,
            propertyName: "dealstage",
            propertyValue: "closedwon",
            eventId: 9,
            subscriptionId: 4,
            portalId: 62515,
            occurredAt: 1700000000000,
            subscriptionType: "deal.propertyChange",
          },
        ]),
      );
      expect(event?.card).toEqual({
        source: "hubspot",
        objectType: "opportunity",
        objectId: "123",
        event: "opportunity.stage_changed",
        title: "Deal 123",
        stage: "closedwon",
        changedFields: ["dealstage"],
        url: "https://app.hubspot.com/contacts/62515/record/0-3/123",
      });
    });

    it("names the new owner of a hubspot_owner_id change (numeric or text), and no owner for other changes", async () => {
      const base = { eventId: 1, subscriptionId: 2, portalId: 3, occurredAt: 10, subscriptionType: "contact.propertyChange" };
      const events = await eventsOf(
        parse([
          { ...base, objectId: 1, propertyName: "hubspot_owner_id", propertyValue: 1001 },
          { ...base, objectId: 2, propertyName: "hubspot_owner_id", propertyValue: "2002" },
          { ...base, objectId: 3, propertyName: "hubspot_owner_id", propertyValue: "not an id!" },
          { ...base, objectId: 4, propertyName: "lifecyclestage", propertyValue: "lead" },
        ]),
      );
      expect(events.map((e) => e.card.owner ?? null)).toEqual(["1001", "2002", null, null]);
    });

    it("maps companies to customers and deals to opportunities, legacy eventType and generic object.* included", async () => {
      const base = { eventId: 1, subscriptionId: 2, portalId: 3, occurredAt: 10 };
      const events = await eventsOf(
        parse([
          { ...base, objectId: 1, subscriptionType: "company.creation" },
          { ...base, objectId: 2, eventType: "deal.creation" },
          { ...base, objectId: 3, subscriptionType: "company.propertyChange", propertyName: "name", propertyValue: "Acme" },
          { ...base, objectId: 4, subscriptionType: "object.creation", objectTypeId: "0-3" },
          { ...base, objectId: 5, subscriptionType: "deal.deletion" },
        ]),
      );
      expect(events.map((e) => [e.card.objectType, e.card.event, e.card.title])).toEqual([
        ["customer", "customer.created", "Company 1"],
        ["opportunity", "opportunity.created", "Deal 2"],
        ["customer", "customer.updated", "Company 3"],
        ["opportunity", "opportunity.created", "Deal 4"],
        ["opportunity", "opportunity.deleted", "Deal 5"],
      ]);
      expect(events[4]?.card.url).toBeUndefined();
    });

    it("finds no object kind or action in names of Object.prototype members", async () => {
      const base = { eventId: 1, subscriptionId: 2, portalId: 3, occurredAt: 10, objectId: 1 };
      const events = await eventsOf(
        parse([
          { ...base, subscriptionType: "constructor.creation" },
          { ...base, subscriptionType: "contact.constructor" },
          { ...base, subscriptionType: "__proto__.toString" },
          { ...base, subscriptionType: "object.creation", objectTypeId: "constructor" },
        ]),
      );
      expect(events).toEqual([]);
    });

    it("sorts events by occurredAt, keeping the order of simultaneous ones", async () => {
      const base = { subscriptionId: 2, portalId: 3, objectId: 7, subscriptionType: "deal.creation" };
      const events = await eventsOf(
        parse([
          { ...base, eventId: 1, occurredAt: 300 },
          { ...base, eventId: 2, occurredAt: 100 },
          { ...base, eventId: 3, occurredAt: 200 },
          { ...base, eventId: 4, occurredAt: 100 },
        ]),
      );
      expect(events.map((e) => e.deliveryId)).toEqual(["2:2:7:100", "4:2:7:100", "3:2:7:200", "1:2:7:300"]);
    });

    it("skips subscriptions it does not map (tickets, associations, privacy deletions)", async () => {
      const base = { eventId: 1, subscriptionId: 2, portalId: 3, occurredAt: 10, objectId: 4 };
      const events = await eventsOf(
        parse([
          { ...base, subscriptionType: "ticket.creation" },
          { ...base, subscriptionType: "contact.associationChange" },
          { ...base, subscriptionType: "contact.privacyDeletion" },
          { ...base, subscriptionType: "object.creation", objectTypeId: "0-5" },
          { ...base, subscriptionType: "deal.creation" },
        ]),
      );
      expect(events.map((e) => e.card.event)).toEqual(["opportunity.created"]);
    });

    it(`refuses more than ${HUBSPOT_MAX_EVENTS} events, accepts exactly ${HUBSPOT_MAX_EVENTS}`, async () => {
      const event = (i: number) => ({ eventId: i, subscriptionId: 1, portalId: 1, occurredAt: i, objectId: i, subscriptionType: "deal.creation" });
      expect(await eventsOf(parse(Array.from({ length: 100 }, (_, i) => event(i))))).toHaveLength(100);
      expect(await reasonOf(parse(Array.from({ length: 101 }, (_, i) => event(i))))).toMatch(/at most 100/);
    });

    it("refuses bodies that are not an array of well-formed events, without throwing", async () => {
      expect(await reasonOf(parse("nope"))).toBe("body: is not JSON");
      expect(await reasonOf(parse({ eventId: 1 }))).toMatch(/array/);
      expect(await reasonOf(parse([42]))).toMatch(/^body\.0/);
      expect(await reasonOf(parse([{ eventId: 1 }]))).toMatch(/subscriptionType/);
      expect(await reasonOf(parse([{ subscriptionType: "deal.creation", eventId: 1, subscriptionId: 1, occurredAt: 1 }]))).toMatch(/objectId/);
      expect(await reasonOf(parse([{ subscriptionType: "deal.creation", eventId: 1, subscriptionId: 1, occurredAt: "now", objectId: 1 }]))).toMatch(
        /occurredAt/,
      );
    });
  });

  it("answers {ok:true} and the API error envelope", async () => {
    expect(await adapter.accepted().json()).toEqual({ ok: true });
    const rejected = adapter.rejected(401, "signature v3 does not match");
    expect(rejected.status).toBe(401);
    expect(await rejected.json()).toEqual({ error: { code: "unauthorized", message: "signature v3 does not match" } });
  });
});

// ---------------------------------------------------------------------------------------------
// Salesforce Outbound Messages

describe("salesforce adapter (Outbound Messages)", () => {
  const adapter = ADAPTERS.salesforce;
  const now = Date.UTC(2026, 0, 15, 12);
  // The real captured request quoted in integrations.md §2.1 (perl-WebService-Salesforce-Message fixture).
  const captured = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00De0000000pmu1EAA</OrganizationId>
   <ActionId>04ke0000000Cb2DAAS</ActionId>
   <SessionId>00De0000000pmu1!AQsAQJ6TzpySaKROMNTwKzcOluY5SsZ0rFz9nhA3ktEIly2om86AQtWIbEaakQ9x1lTKNohBaUhDaz2ZD3RSUDCWAGuvJbS0</SessionId>
   <EnterpriseUrl>https://cs15.salesforce.com/services/Soap/c/29.0/00De0000000pmu1</EnterpriseUrl>
   <PartnerUrl>https://cs15.salesforce.com/services/Soap/u/29.0/00De0000000pmu1</PartnerUrl>
   <Notification>
    <Id>04le0000004lnFFAAY</Id>
    <sObject xsi:type="sf:State_Province__c" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>a29e0000000K4P0AAK</sf:Id>
     <sf:Abbrev__c>AR</sf:Abbrev__c>
     <sf:Country__c>a28e00000002hMtAAI</sf:Country__c>
     <sf:Name>Arkansas</sf:Name>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`;

  const envelope = (notifications: string, orgId = "00D5g000004XyZaEAK") => `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${orgId}</OrganizationId>
   <ActionId>04k5g0000008OAbAAM</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/59.0/00D5g000004XyZa</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/59.0/00D5g000004XyZa</PartnerUrl>
${notifications}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`;

  const lead = `   <Notification>
    <Id>04l5g00000AAAAaAAP</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00Q5g00000AbCdEEAV</sf:Id>
     <sf:Company>Acme &amp; Sons</sf:Company>
     <sf:CreatedDate>2026-01-15T10:00:00.000Z</sf:CreatedDate>
     <sf:Email>jane@acme.example</sf:Email>
     <sf:FirstName>Jane</sf:FirstName>
     <sf:LastModifiedDate>2026-01-15T10:00:00.000Z</sf:LastModifiedDate>
     <sf:LastName>Doe</sf:LastName>
     <sf:OwnerId>0055g00000AbCdEAAV</sf:OwnerId>
     <sf:Status>Open - Not Contacted</sf:Status>
     <sf:Switchboard_Owner__c>u_alice</sf:Switchboard_Owner__c>
    </sObject>
   </Notification>`;
  const opportunity = `   <Notification>
    <Id>04l5g00000BBBBbAAP</Id>
    <sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>0065g00000QrStUAAV</sf:Id>
     <sf:Amount>125000.0</sf:Amount>
     <sf:CloseDate>2026-03-31</sf:CloseDate>
     <sf:CreatedDate>2025-12-01T09:00:00.000Z</sf:CreatedDate>
     <sf:CurrencyIsoCode>EUR</sf:CurrencyIsoCode>
     <sf:LastModifiedDate>2026-01-15T09:30:00.000Z</sf:LastModifiedDate>
     <sf:Name>Acme — Renewal 2026</sf:Name>
     <sf:OwnerId>0055g00000AbCdEAAV</sf:OwnerId>
     <sf:StageName>Negotiation/Review</sf:StageName>
    </sObject>
   </Notification>`;

  const request = (body: string) => ingress({ body, now, headers: { "content-type": "text/xml; charset=utf-8", soapaction: '""' } });

  it("parses the captured sample message into a generic card", async () => {
    expect(await eventsOf(adapter.parse(request(captured)))).toEqual([
      {
        deliveryId: "04le0000004lnFFAAY",
        occurredAt: now,
        card: {
          source: "salesforce",
          objectType: "state_province__c",
          objectId: "a29e0000000K4P0AAK",
          event: "state_province__c.updated",
          title: "Arkansas",
          url: "https://cs15.salesforce.com/a29e0000000K4P0AAK",
        },
      },
    ]);
  });

  it("parses a lead and an opportunity in one message, sorted by LastModifiedDate", async () => {
    expect(await eventsOf(adapter.parse(request(envelope(`${lead}\n${opportunity}`))))).toEqual([
      {
        deliveryId: "04l5g00000BBBBbAAP",
        occurredAt: Date.parse("2026-01-15T09:30:00.000Z"),
        card: {
          source: "salesforce",
          objectType: "opportunity",
          objectId: "0065g00000QrStUAAV",
          event: "opportunity.updated",
          title: "Acme — Renewal 2026",
          amount: 125000,
          currency: "EUR",
          owner: "0055g00000AbCdEAAV",
          stage: "Negotiation/Review",
          url: "https://acme.my.salesforce.com/0065g00000QrStUAAV",
        },
      },
      {
        deliveryId: "04l5g00000AAAAaAAP",
        occurredAt: Date.parse("2026-01-15T10:00:00.000Z"),
        card: {
          source: "salesforce",
          objectType: "lead",
          objectId: "00Q5g00000AbCdEEAV",
          event: "lead.created",
          title: "Acme & Sons",
          company: "Acme & Sons",
          contact: "Jane Doe <jane@acme.example>",
          owner: "u_alice",
          stage: "Open - Not Contacted",
          url: "https://acme.my.salesforce.com/00Q5g00000AbCdEEAV",
        },
      },
    ]);
  });

  it("titles a lead without a company by its name, and names OwnerId as the owner when no Switchboard_Owner__c is set", async () => {
    const bare = `<Notification><Id>04l5g00000AAAAaAAP</Id><sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
      <sf:Id>00Q5g00000AbCdEEAV</sf:Id><sf:FirstName>Jane</sf:FirstName><sf:LastName>Doe</sf:LastName><sf:OwnerId>0055g00000AbCdEAAV</sf:OwnerId>
    </sObject></Notification>`;
    const [event] = await eventsOf(adapter.parse(request(envelope(bare))));
    expect(event?.card).toMatchObject({ objectType: "lead", title: "Jane Doe", contact: "Jane Doe", event: "lead.updated" });
    expect(event?.card.owner).toBe("0055g00000AbCdEAAV");
  });

  it("pins the OrganizationId in its 15- and 18-character forms", async () => {
    expect(await adapter.verify(request(captured), {})).toEqual({ ok: true });
    expect(await adapter.verify(request(captured), { organizationId: "00De0000000pmu1EAA" })).toEqual({ ok: true });
    expect(await adapter.verify(request(captured), { organizationId: "00De0000000pmu1" })).toEqual({ ok: true });
    expect(await adapter.verify(request(captured), { organizationId: "00De0000000pmu1eaa" })).toEqual({ ok: true });
    expect(await adapter.verify(request(envelope(lead, "00De0000000pmu1")), { organizationId: "00De0000000pmu1EAA" })).toEqual({ ok: true });
  });

  it("refuses a delivery from another org", async () => {
    for (const organizationId of ["00De0000000pmu2EAA", "00De0000000pmu2", "00DE0000000PMU1", "00De0000000pmu1EAB"]) {
      const result = await adapter.verify(request(captured), { organizationId });
      expect(result.ok, organizationId).toBe(false);
    }
    expect(salesforceId15("00De0000000pmu1EAA")).toBe("00De0000000pmu1");
    expect(salesforceId15("00De0000000pmu1XYZ")).toBeUndefined();
    expect(sameSalesforceId("00De0000000pmu1", "00de0000000pmu1")).toBe(false);
  });

  const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
${envelope(lead.replace("Acme &amp; Sons", "&lol9;"))}`;
  const externalEntity = `<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
${envelope(lead.replace("Acme &amp; Sons", "&xxe;"))}`;
  const lowerDoctype = `<?xml version="1.0"?>\n<!doctype foo>\n${envelope(lead)}`;
  const bareEntity = envelope(lead).replace("<soapenv:Body>", '<soapenv:Body><!ENTITY x "y">');
  const otherDeclaration = envelope(lead).replace("<soapenv:Body>", "<soapenv:Body><!ELEMENT x ANY>");

  it("refuses DOCTYPE and ENTITY declarations (billion laughs, external entities) without expanding them", async () => {
    for (const [name, body] of Object.entries({ billionLaughs, externalEntity, lowerDoctype, bareEntity, otherDeclaration })) {
      const started = Date.now();
      // Not a credential problem (the URL token is): verify lets it through, parse refuses it (400).
      expect((await adapter.verify(request(body), { organizationId: "00De0000000pmu1EAA" })).ok, name).toBe(true);
      const parsed = adapter.parse(request(body));
      expect(await reasonOf(parsed), name).toMatch(/refused/);
      expect(Date.now() - started).toBeLessThan(1000);
    }
  });

  it("resolves only XML's predefined entities and character references, in one pass", async () => {
    expect(decodeXmlText("a &amp; b &lt;c&gt; &quot;&apos; &#65;&#x42; &amp;lt; &foo; &#0;")).toBe(`a & b <c> "' AB &lt; &foo; &#0;`);
  });

  it("refuses malformed XML and what is not an Outbound Message", async () => {
    expect(await reasonOf(adapter.parse(request(envelope(lead).replace("</sObject>", ""))))).toMatch(/malformed XML/);
    expect(await reasonOf(adapter.parse(request("not xml at all")))).toMatch(/Outbound Message|malformed/);
    expect(await reasonOf(adapter.parse(request("<a><b></a>")))).toMatch(/malformed XML/);
    expect(await reasonOf(adapter.parse(request("<root/>")))).toMatch(/Outbound Message/);
    expect(await reasonOf(adapter.parse(request(envelope(""))))).toMatch(/no Notification/);
    expect(await reasonOf(adapter.parse(request(envelope(lead, "not-an-org-id"))))).toMatch(/OrganizationId/);
    expect(await reasonOf(adapter.parse(request(envelope(lead.replace(' xsi:type="sf:Lead"', "")))))).toMatch(/xsi:type/);
    expect(await reasonOf(adapter.parse(request(envelope(lead.replace("<Id>04l5g00000AAAAaAAP</Id>", "")))))).toMatch(/missing Id/);
  });

  it("refuses more than 100 notifications, accepts exactly 100", async () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => lead.replace("04l5g00000AAAAaAAP", `04l5g00000A${String(i).padStart(4, "0")}`)).join("\n");
    expect(await eventsOf(adapter.parse(request(envelope(many(100)))))).toHaveLength(100);
    expect(await reasonOf(adapter.parse(request(envelope(many(101)))))).toMatch(/at most 100/);
  });

  it("leaves an unreadable message to parse (a 400) even when an org is pinned, and refuses another org's message", async () => {
    expect((await adapter.verify(request("<a><b></a>"), { organizationId: "00De0000000pmu1EAA" })).ok).toBe(true);
    expect(await reasonOf(adapter.parse(request("<a><b></a>")))).toMatch(/malformed XML/);
    expect((await adapter.verify(request(envelope(lead)), { organizationId: "00Dx0000000pmu1EAA" })).ok).toBe(false);
  });

  it("acknowledges with the exact SOAP Ack Salesforce expects", async () => {
    const response = adapter.accepted();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/xml/);
    const body = await response.text();
    expect(body).toBe(SALESFORCE_ACK);
    expect(body).toBe(`<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Body>
    <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">
      <Ack>true</Ack>
    </notificationsResponse>
  </soapenv:Body>
</soapenv:Envelope>`);
  });

  it("rejects with a SOAP Fault carrying the escaped reason", async () => {
    const response = adapter.rejected(400, "bad <xml> & more");
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toMatch(/^text\/xml/);
    const body = await response.text();
    expect(body).toContain("<soapenv:Fault>");
    expect(body).toContain("<faultcode>soapenv:Client</faultcode>");
    expect(body).toContain("<faultstring>bad &lt;xml&gt; &amp; more</faultstring>");
    expect(adapter.rejected(401, "x").status).toBe(401);
  });
});

// ---------------------------------------------------------------------------------------------
// Slack-compatible incoming webhooks

describe("slack adapter (incoming webhooks)", () => {
  const adapter = ADAPTERS.slack;
  const now = Date.UTC(2026, 0, 15, 12);
  const json = (payload: unknown) => ingress({ body: JSON.stringify(payload), now, headers: { "content-type": "application/json" } });

  it("accepts any delivery: the URL token is the credential", async () => {
    expect(await adapter.verify(json({ text: "hi" }), {})).toEqual({ ok: true });
  });

  it("turns a JSON text message into one card, mrkdwn kept", async () => {
    const text = "*Deploy* finished: <https://ci.example/1|build 1> :tada:\nsecond line";
    const [event] = await eventsOf(adapter.parse(json({ text, username: "ci", icon_emoji: ":robot:" })));
    expect(event?.occurredAt).toBe(now);
    expect(event?.deliveryId).toMatch(/^slack:[0-9a-f]{64}$/);
    expect(event?.card).toEqual({
      source: "slack",
      objectType: "message",
      objectId: event?.deliveryId.slice("slack:".length),
      event: "message.posted",
      title: "*Deploy* finished: <https://ci.example/1|build 1> :tada:",
      text,
    });
  });

  it("reads form-encoded payload=<json>, with or without the Content-Type", async () => {
    const form = `payload=${encodeURIComponent(JSON.stringify({ text: "from a form & more" }))}`;
    for (const headers of [{ "content-type": "application/x-www-form-urlencoded" }, {}]) {
      const [event] = await eventsOf(adapter.parse(ingress({ body: form, now, headers })));
      expect(event?.card.text).toBe("from a form & more");
    }
    expect(await reasonOf(adapter.parse(ingress({ body: "text=hi", now, headers: { "content-type": "application/x-www-form-urlencoded" } })))).toMatch(
      /^invalid_payload/,
    );
  });

  it("collects text from blocks and attachments when there is no text", async () => {
    const [event] = await eventsOf(
      adapter.parse(
        json({
          blocks: [
            { type: "header", text: { type: "plain_text", text: "Incident #42" } },
            { type: "divider" },
            { type: "section", text: { type: "mrkdwn", text: "*Severity:* high" }, fields: [{ type: "mrkdwn", text: "*Service:* api" }] },
            { type: "context", elements: [{ type: "mrkdwn", text: "via PagerDuty" }, { type: "image", image_url: "https://x/y.png", alt_text: "logo" }] },
            { type: "rich_text", elements: [{ type: "rich_text_section", elements: [{ type: "text", text: "See " }, { type: "link", url: "https://status.example" }] }] },
          ],
          attachments: [
            { fallback: "Fallback only" },
            { pretext: "Pre", title: "Title", text: "Body", fallback: "unused", fields: [{ title: "Region", value: "eu-west", short: true }] },
          ],
        }),
      ),
    );
    expect(event?.card.title).toBe("Incident #42");
    expect(event?.card.text).toBe(
      "Incident #42\n*Severity:* high\n*Service:* api\nvia PagerDuty\nSee https://status.example\n\nFallback only\n\nPre\nTitle\nBody\nRegion: eu-west",
    );
  });

  it("prefers blocks' text over the notification fallback in text", async () => {
    const [event] = await eventsOf(adapter.parse(json({ text: "fallback", blocks: [{ type: "section", text: { type: "mrkdwn", text: "rich" } }] })));
    expect(event?.card.text).toBe("rich");
  });

  it("bounds the title to 200 and the text to 8000 characters", async () => {
    const [event] = await eventsOf(adapter.parse(json({ text: `${"t".repeat(300)}\n${"x".repeat(20_000)}` })));
    expect(event?.card.title.length).toBe(200);
    expect(event?.card.text?.length).toBe(8000);
  });

  it("gives identical bodies the same delivery id and different bodies different ones", async () => {
    const a1 = (await eventsOf(adapter.parse(json({ text: "same" }))))[0];
    const a2 = (await eventsOf(adapter.parse(json({ text: "same" }))))[0];
    const b = (await eventsOf(adapter.parse(json({ text: "other" }))))[0];
    expect(a1?.deliveryId).toBe(a2?.deliveryId);
    expect(a1?.deliveryId).not.toBe(b?.deliveryId);
  });

  it("refuses a message without text as no_text and a malformed one as invalid_payload", async () => {
    expect(await reasonOf(adapter.parse(json({ username: "x" })))).toMatch(/^no_text/);
    expect(await reasonOf(adapter.parse(json({ text: "   " })))).toMatch(/^no_text/);
    expect(await reasonOf(adapter.parse(json({ blocks: [{ type: "divider" }] })))).toMatch(/^no_text/);
    expect(await reasonOf(adapter.parse(ingress({ body: "{oops", now })))).toMatch(/^invalid_payload/);
    expect(await reasonOf(adapter.parse(json(["text"])))).toMatch(/^invalid_payload/);
    expect(await reasonOf(adapter.parse(json({ text: 42 })))).toMatch(/^invalid_payload/);
    expect(await reasonOf(adapter.parse(json({ blocks: "nope" })))).toMatch(/^invalid_blocks/);
    expect(await reasonOf(adapter.parse(json({ attachments: {} })))).toMatch(/^invalid_attachments/);
  });

  it("answers ok as text/plain and errors as Slack's strings and statuses", async () => {
    const ok = adapter.accepted();
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await ok.text()).toBe("ok");
    const cases = [
      [400, "no_text: text, blocks or attachments must carry text", 400, "no_text"],
      [400, "invalid_payload: not JSON", 400, "invalid_payload"],
      [400, "invalid_blocks: must be an array", 400, "invalid_blocks"],
      [400, "something else", 400, "invalid_payload"],
      [401, "bad token", 403, "invalid_token"],
      [404, "unknown hook", 404, "no_service"],
      [413, "too big", 413, "request_too_large"],
    ] as const;
    for (const [status, reason, expectedStatus, body] of cases) {
      const response = adapter.rejected(status, reason);
      expect(response.status).toBe(expectedStatus);
      expect(await response.text()).toBe(body);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Robustness

describe("every adapter", () => {
  const bodies = [
    "",
    "null",
    "[]",
    "{}",
    "[null]",
    '{"type":"lead.created","data":null}',
    "\u0000\u00ff<<<",
    "<soapenv:Envelope>",
    "payload=%7B",
    JSON.stringify([{ subscriptionType: "deal.creation", objectId: {}, eventId: [], subscriptionId: 1, occurredAt: 1e400 }]),
    '{"__proto__":{"polluted":true},"text":"x"}',
    "<a><__proto__>x</__proto__></a>",
  ];
  const raw = [new Uint8Array([0xff, 0xfe, 0x00, 0x80]), new Uint8Array(0)];

  it("never throws from verify or parse, whatever the body, headers or context", async () => {
    const contexts: VerifyContext[] = [{}, { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }, { organizationId: "x" }, { hubspotVersions: [] }];
    for (const kind of INTEGRATION_KINDS) {
      for (const body of [...bodies.map((b) => utf8(b)), ...raw]) {
        const request = ingress({
          body,
          now: Date.now(),
          headers: {
            "webhook-id": "m",
            "webhook-timestamp": "1",
            "webhook-signature": "v1,====",
            "X-HubSpot-Signature-v3": "x",
            "X-HubSpot-Request-Timestamp": String(Date.now()),
          },
        });
        const parsed = await ADAPTERS[kind].parse(request);
        expect(typeof parsed.ok).toBe("boolean");
        if (parsed.ok) for (const event of parsed.events) expect(CrmCardBody.safeParse(event.card).success).toBe(true);
        for (const context of contexts) {
          const verified = await ADAPTERS[kind].verify(request, context);
          expect(typeof verified.ok).toBe("boolean");
        }
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
