/**
 * How the SDK reaches the service, shared by the HTTP API, the conversation socket and the device channel:
 * base URLs, tokens, opening and closing sockets, and the backoff between attempts.
 */
import type { TokenSource, WebSocketLike } from "./types.ts";

export const PING_TEXT = '{"type":"ping"}';

/** The part of `fetch` that asking for a status needs. */
export type StatusFetch = (url: string, init: { headers: Record<string, string> }) => Promise<{ status: number }>;

/** The service's HTTP origin from a base URL given as `http(s)://` or `ws(s)://`, without a trailing slash. */
export function httpBase(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "").replace(/^ws/i, "http");
}

/** The same origin as a `ws(s)://` URL. */
export function socketBase(baseUrl: string): string {
  return httpBase(baseUrl).replace(/^http/i, "ws");
}

export async function tokenNow(token: TokenSource): Promise<string> {
  return typeof token === "function" ? await token() : token;
}

/** Open a socket with the runtime's global `WebSocket`. */
export function defaultConnect(url: string): WebSocketLike {
  const WebSocketImpl: (new (url: string) => WebSocketLike) | undefined = "WebSocket" in globalThis ? globalThis.WebSocket : undefined;
  if (!WebSocketImpl) throw new Error("no global WebSocket: pass a `connect` option");
  return new WebSocketImpl(url);
}

export function safeClose(socket: WebSocketLike, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // already closed or closing
  }
}

/** The HTTP status a failed `connect` reports, if it reports one (e.g. an UpgradeRefusedError). */
export function statusOf(err: unknown): number | undefined {
  const status = typeof err === "object" && err !== null && "status" in err ? err.status : undefined;
  return typeof status === "number" ? status : undefined;
}

/** Exponential backoff with jitter: between half and all of min(max, initial * 2^attempt). */
export function backoffDelay(backoff: { initialMs: number; maxMs: number }, attempt: number): number {
  const { initialMs, maxMs } = backoff;
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * The HTTP status the service answers `url` with, asked when a socket closed before `ready` without saying
 * why (browsers never expose the status of a refused upgrade). Undefined without a fetch or a network.
 */
export async function probeStatus(fetcher: StatusFetch | undefined, url: string, token: TokenSource): Promise<number | undefined> {
  const fetchStatus: StatusFetch | undefined = fetcher ?? ("fetch" in globalThis ? globalThis.fetch : undefined);
  if (!fetchStatus) return undefined;
  try {
    const res = await fetchStatus(url, { headers: { authorization: `Bearer ${await tokenNow(token)}` } });
    return res.status;
  } catch {
    return undefined; // the network is down: retry
  }
}
