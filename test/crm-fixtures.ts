import { exports } from "cloudflare:workers";
import { signStandardWebhook } from "../src/crm/standard";

const enc = new TextEncoder();

/** A signed Standard Webhooks delivery, built once so that it can be sent several times exactly alike. */
export async function signedDelivery(hook: { url: string; secret: string }, event: unknown, id = `msg_${crypto.randomUUID()}`) {
  const body = JSON.stringify(event);
  const ts = String(Math.floor(Date.now() / 1000));
  const signature = await signStandardWebhook(hook.secret, id, ts, enc.encode(body));
  return async () => {
    const res = await exports.default.fetch(hook.url, {
      method: "POST",
      headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": signature },
      body,
    });
    return { status: res.status, text: await res.text() };
  };
}

/** A CRM lead event, optionally with an owner (a user id or a CRM id). */
export const lead = (id: string, owner?: string) => ({ type: "lead.created", data: { id, title: `Lead ${id}`, ...(owner ? { owner } : {}) } });
