/** Our own replies, for the senders that only look at the status (standard, hubspot). */

import { errorBody } from "../protocol/errors";
import type { CrmAdapter, RejectionStatus } from "./types";

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } });
}

const ENVELOPE_CODE = { 400: "invalid_request", 401: "unauthorized", 404: "not_found", 409: "conflict", 413: "too_large", 429: "rate_limited" } as const;

/** `{"ok":true}` for an accepted delivery, the API error envelope (API.md "Conventions") for a rejected one. */
export const JSON_REPLIES: Pick<CrmAdapter, "accepted" | "rejected"> = {
  accepted: () => jsonResponse(200, { ok: true }),
  rejected: (status: RejectionStatus, reason: string) => jsonResponse(status, errorBody(ENVELOPE_CODE[status], reason)),
};
