/** What the providers put in a push: text cut to the services' limits, and short stable ids. */

import { b64urlEncode, utf8 } from "../lib/encoding";
import { sha256 } from "../lib/hash";

/** Cut `text` to at most `maxChars` code points, never splitting a surrogate pair, marking the cut with "…". */
export function truncateText(text: string, maxChars: number): string {
  const chars = Array.from(text);
  if (chars.length <= maxChars) return text;
  if (maxChars <= 0) return "";
  return chars.slice(0, maxChars - 1).join("") + "…";
}

/**
 * The longest `preview` (cut at a code point, with "…") for which `render(preview)` stays within
 * `maxBytes` of UTF-8; push services reject payloads over their limit (Web Push 4096-byte record,
 * FCM 4096, APNs 4096) rather than truncate them.
 */
export function fitToBytes(preview: string, maxBytes: number, render: (preview: string) => string): string {
  if (utf8(render(preview)).length <= maxBytes) return render(preview);
  const chars = Array.from(preview);
  let lo = 0;
  let hi = chars.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (utf8(render(truncateText(preview, mid))).length <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  return render(truncateText(preview, lo));
}

/** SHA-256 of a string, base64url: a stable short id for topics and collapse ids of any length. */
export async function sha256B64url(text: string): Promise<string> {
  return b64urlEncode(await sha256(text));
}

/** `apns-collapse-id` is limited to 64 bytes; conversation ids fit, anything longer is hashed. */
export async function collapseId(conversationId: string): Promise<string> {
  return utf8(conversationId).length <= 64 ? conversationId : sha256B64url(conversationId);
}
