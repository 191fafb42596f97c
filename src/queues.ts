/** Queue names, as configured in wrangler.toml (the Worker's main module may export only handlers and classes). */
export const PUSH_QUEUE_NAME = "switchboard-push";
export const PUSH_DLQ_NAME = "switchboard-push-dlq";
export const EVENTS_QUEUE_NAME = "switchboard-events";
export const EVENTS_DLQ_NAME = "switchboard-events-dlq";
