import { createApp } from "../src/http/app";

/** One route of the app as its router knows it: method, path pattern and the names of its parameters. */
export interface RouteSpec {
  method: string;
  path: string;
  params: string[];
}

/** Every route the app serves, read from Hono's own route table (middleware entries left out). */
export function routeTable(): RouteSpec[] {
  const seen = new Set<string>();
  const out: RouteSpec[] = [];
  for (const route of createApp().routes) {
    if (route.method === "ALL" || route.path.includes("*")) continue;
    const key = `${route.method} ${route.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ method: route.method, path: route.path, params: [...route.path.matchAll(/:([A-Za-z]+)\??/g)].map((m) => m[1]!) });
  }
  return out;
}

/** The route's path with each parameter replaced (already encoded for a path segment). */
export function fillPath(route: RouteSpec, value: (param: string) => string): string {
  return route.path.replace(/:([A-Za-z]+)\??/g, (_, name: string) => value(name));
}
