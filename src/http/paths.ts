import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./context";
import { ApiError } from "./errors";

/**
 * True when every segment of the raw path decodes as UTF-8 percent escapes. Hono decodes parameters
 * leniently (a bad escape is passed through undecoded), so a handler could otherwise see a half-decoded
 * string, or throw URIError decoding it again.
 */
export function pathDecodes(rawPath: string): boolean {
  if (!rawPath.includes("%")) return true;
  for (const segment of rawPath.split("/")) {
    try {
      decodeURIComponent(segment);
    } catch {
      return false;
    }
  }
  return true;
}

/** The routing layer's guard: a path with a malformed percent escape is bad input for every route, before anything else runs. */
export const wellFormedPath = createMiddleware<AppEnv>(async (c, next) => {
  const url = c.req.url;
  const start = url.indexOf("/", url.indexOf("://") + 3);
  const end = url.search(/[?#]/);
  const rawPath = start < 0 ? "/" : url.slice(start, end < start ? undefined : end);
  if (!pathDecodes(rawPath)) throw new ApiError("invalid_request", "path: malformed percent escape (each %XX must spell UTF-8)");
  await next();
});
