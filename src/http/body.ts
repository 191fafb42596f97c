import type { z } from "zod";
import { LIMITS } from "../protocol/limits";
import { describeIssue } from "../domain/kinds";
import { ApiError } from "./errors";
import type { AppContext } from "./context";

/**
 * Read a JSON body within the size limit and validate it. Oversize is 413 before any parsing;
 * malformed JSON and schema failures are 400 naming the field.
 */
export async function readJson<S extends z.ZodType>(c: AppContext, schema: S): Promise<z.infer<S>> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > LIMITS.httpBodyBytes) throw tooLarge();
  const bytes = await readLimited(c.req.raw.body, LIMITS.httpBodyBytes);
  let data: unknown = {};
  try {
    // An empty body reads as {}: endpoints whose fields are all optional may be called without one.
    if (bytes.byteLength > 0) data = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new ApiError("invalid_request", "body: malformed JSON");
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new ApiError("invalid_request", describeIssue(parsed.error, "body").replace(/^body\./, ""));
  return parsed.data;
}

function tooLarge(limit: number = LIMITS.httpBodyBytes): ApiError {
  return new ApiError("too_large", `body: must be at most ${limit} bytes`);
}

/** Read a body stream up to `limit` bytes; 413 as soon as it goes over. */
export async function readLimited(stream: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array> {
  if (!stream) return new Uint8Array();
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Parse an optional non-negative integer query parameter; 400 naming it when it is not one. */
export function intParam(c: AppContext, name: string, bounds: { min: number; max: number }): number | undefined {
  const raw = c.req.query(name);
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new ApiError("invalid_request", `${name}: must be an integer`);
  const value = Number(raw);
  if (value < bounds.min || value > bounds.max) {
    throw new ApiError("invalid_request", `${name}: must be between ${bounds.min} and ${bounds.max}`);
  }
  return value;
}
