import type { z } from "zod";
import { describeIssue } from "../domain/kinds";
import { ApiError } from "./errors";
import type { AppContext } from "./context";

/** Validate the query string against a schema; 400 naming the parameter when it does not fit. */
export function readQuery<S extends z.ZodType>(c: AppContext, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw new ApiError("invalid_request", describeIssue(parsed.error));
  return parsed.data;
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
