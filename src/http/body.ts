import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { zValidator } from "@hono/zod-validator";
import type { z } from "zod";
import { LIMITS } from "../protocol/limits";
import { describeIssue } from "../domain/kinds";
import { ApiError } from "./errors";
import type { AppContext } from "./context";

function tooLarge(limit: number): ApiError {
  return new ApiError("too_large", `body: must be at most ${limit} bytes`);
}

function malformed(): ApiError {
  return new ApiError("invalid_request", "body: malformed JSON");
}

/** JSON bodies are at most LIMITS.httpBodyBytes: 413 before any parsing (declared length first, then the stream). */
const limitJson = bodyLimit({
  maxSize: LIMITS.httpBodyBytes,
  onError: () => {
    throw tooLarge(LIMITS.httpBodyBytes);
  },
});

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Hand the validator the body as JSON. The API reads a body as JSON whatever its Content-Type says, an
 * empty body as `{}` (endpoints whose fields are all optional may be called without one), and bytes that
 * are not UTF-8 as malformed JSON (never as replacement characters).
 */
const asJson: MiddlewareHandler = async (c, next) => {
  const bytes = await c.req.raw.arrayBuffer();
  // The body limit trusts a declared Content-Length; a caller in the same runtime (a service binding,
  // the tests) is not held to it, so the bytes actually read are counted too.
  if (bytes.byteLength > LIMITS.httpBodyBytes) throw tooLarge(LIMITS.httpBodyBytes);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw malformed();
  }
  const headers = new Headers(c.req.raw.headers);
  headers.set("content-type", "application/json");
  c.req.raw = new Request(c.req.raw, { headers, body: bytes.byteLength === 0 ? "{}" : text });
  await next();
};

/**
 * Middleware: the JSON body within the size limit, validated against `schema`; the handler reads it
 * with `c.req.valid("json")`. Oversize is 413 `too_large`; malformed JSON and schema failures are 400
 * `invalid_request` naming the field.
 */
export function jsonBody<S extends z.ZodType>(schema: S) {
  const validate = zValidator("json", schema, (result) => {
    if (!result.success) throw new ApiError("invalid_request", describeIssue(result.error, "body").replace(/^body\./, ""));
  });
  const validated: MiddlewareHandler = async (c, next) => {
    try {
      await validate(c, next);
    } catch (err) {
      // Only the validator's own failures arrive here (a later handler's error is answered where it is
      // thrown), and the one it raises itself is unparseable JSON.
      throw err instanceof HTTPException ? malformed() : err;
    }
  };
  const middleware: typeof validate = async (c, next) => {
    await limitJson(c, async () => {
      await asJson(c, async () => {
        await validated(c, next);
      });
    });
  };
  return middleware;
}

/** The request body's bytes, at most `maxSize`; undefined when it is larger (declared or streamed). */
export async function limitedBody(c: AppContext, maxSize: number): Promise<Uint8Array | undefined> {
  let within = false;
  await bodyLimit({ maxSize, onError: (c) => c.body(null, 413) })(c, async () => {
    within = true;
  });
  if (!within) return undefined;
  const bytes = new Uint8Array(await c.req.raw.arrayBuffer());
  return bytes.byteLength <= maxSize ? bytes : undefined;
}
