/** The CRM ingress adapters by integration kind, and secret generation for the `standard` kind. */

import { base64Encode } from "../lib/encoding";
import { randomBytes } from "../lib/random";
import { hubspotAdapter } from "./hubspot";
import { salesforceAdapter } from "./salesforce";
import { slackAdapter } from "./slack";
import { standardAdapter } from "./standard";
import type { CrmAdapter, IntegrationKind } from "./types";

/** One adapter per delivery format: verify → parse → card events, and the replies each sender expects. */
export const ADAPTERS: Record<IntegrationKind, CrmAdapter> = {
  standard: standardAdapter,
  hubspot: hubspotAdapter,
  salesforce: salesforceAdapter,
  slack: slackAdapter,
};

/** Bytes of a new `standard` secret: Standard Webhooks asks for 24–64 random bytes (we use 24, like Svix). */
export const STANDARD_SECRET_BYTES = 24;

/** A new Standard Webhooks secret: `whsec_` + base64 of 24 random bytes. */
export function newStandardSecret(): string {
  return `whsec_${base64Encode(randomBytes(STANDARD_SECRET_BYTES))}`;
}
