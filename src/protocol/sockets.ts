/** Small helpers both Durable Objects use on their sockets and internal requests. */

/** Send on a socket that may be closing; false when it could not be sent (its close handler cleans up). */
export function trySend(ws: WebSocket, data: string): boolean {
  try {
    ws.send(data);
    return true;
  } catch {
    return false;
  }
}

/** Parse the identity header the Worker set; undefined when absent or not JSON. */
export function parseHeaderJson(text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Answer a peer's Close (1005/1006 are reserved and cannot be sent, so they are answered with 1000). */
export function answerClose(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
  } catch {
    // already closed
  }
}
