/**
 * The reporting log: one JSON object per line on the console, which Workers Logs (`[observability]`)
 * indexes field by field. Lines carry ids, counts, outcomes and timings; never a message body, token,
 * api key, secret or webhook payload. Callers pass only the fields below the `type`.
 */

export type LogType =
  | "request"
  | "socket.closed"
  | "mirror.flush"
  | "notify.batch"
  | "push.attempt"
  | "crm.delivery"
  | "outbound.attempt"
  | "retention.run";

export type LogValue = string | number | boolean | null | undefined;

/** Write one reporting-log line. Undefined fields are left out. */
export function logLine(type: LogType, fields: Record<string, LogValue>, now = Date.now()): void {
  console.log(JSON.stringify({ ts: now, type, ...fields }));
}
