/** The JSON replies of the adapters whose senders take ours (standard, hubspot). */

import { errorBody } from "../protocol/errors";
import type { RejectionStatus } from "./types";

/** A JSON Response. */
export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } });
}

const ENVELOPE_CODE = { 400: "invalid_request", 401: "unauthorized", 404: "not_found", 409: "conflict", 413: "too_large", 429: "rate_limited" } as const;

/** The API error envelope (API.md "Conventions") for a rejected delivery. */
export function envelopeRejection(status: RejectionStatus, reason: string): Response {
  return jsonResponse(status, errorBody(ENVELOPE_CODE[status], reason));
}
