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
