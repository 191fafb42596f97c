/** Reading the answers of outbound requests without letting the far end break or leak into our logs. */

/** "4xx" for 404: the class of an HTTP status, the only part of an answer a delivery log keeps. */
export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/** Read a response body as text, never throwing (a reset connection mid-body must not escape a send). */
export async function safeText(response: Response): Promise<string> {
  try {
    return await response.text();
  } catch {
    return "";
  }
}

/** Release a response's connection without reading it; a broken body must not throw out of a send. */
export async function discardBody(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // ignored: the status is all that matters
  }
}
