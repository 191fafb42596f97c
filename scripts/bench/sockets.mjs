// The load generators' WebSockets (the `ws` client): open one and wait for its `ready`, try again when an
// open is refused or fails, and close them all at the end.
import WebSocket from "ws";
import { performance } from "node:perf_hooks";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Open `url` for `peer` (the caller's record of the socket) and resolve at its first frame, `ready`:
 * `peer.ws` is set at once, `onReady(frame)` sees the ready frame, then `peer.ready` and `peer.readyMs`
 * (open to ready) are set. After that every frame goes to `onFrame(data)` and a close to `onClose(code)`.
 * Rejects when the upgrade is refused (the error carries `status` and `retryAfter`), or when the socket fails,
 * closes or sends anything else first.
 */
export function openReady(peer, url, { onReady, onFrame, onClose }) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 30_000 });
    peer.ws = ws;
    let settled = false;
    const fail = (err) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    ws.on("unexpected-response", (req, res) => {
      const err = Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, retryAfter: Number(res.headers["retry-after"] ?? 1) });
      res.resume();
      req.destroy();
      fail(err);
    });
    ws.on("error", (err) => fail(err));
    ws.on("message", (data) => {
      if (peer.ready) return onFrame(data);
      const frame = JSON.parse(data);
      if (frame.type !== "ready") return fail(new Error(`first frame was ${frame.type}, not ready`));
      onReady?.(frame);
      peer.ready = true;
      peer.readyMs = performance.now() - started;
      settled = true;
      resolve();
    });
    ws.on("close", (code) => {
      if (!peer.ready) return fail(new Error(`closed (${code}) before ready`));
      onClose?.(code);
    });
  });
}

/**
 * Run `open` until it succeeds, at most 11 times: a 429 waits as its Retry-After says, any other failure a
 * little longer each time. `onRetry` hears of every retry; the last failure is thrown as `what: reason`.
 */
export async function withRetries(open, what, onRetry) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await open();
    } catch (err) {
      if (attempt >= 10) throw new Error(`${what}: ${err.message}`);
      onRetry();
      await sleep(err.status === 429 ? err.retryAfter * 1000 : 200 * (attempt + 1));
    }
  }
}

/** Close every peer's socket on purpose (`peer.closing`), wait up to 5 s for them to close, then cut what is left. */
export async function closeAll(peers) {
  for (const peer of peers) {
    peer.closing = true;
    peer.ws.close(1000, "bench done");
  }
  const deadline = performance.now() + 5_000;
  while (peers.some((p) => p.ws.readyState !== WebSocket.CLOSED) && performance.now() < deadline) await sleep(20);
  for (const peer of peers) if (peer.ws.readyState !== WebSocket.CLOSED) peer.ws.terminate();
}
