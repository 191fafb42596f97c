/** Header by which the Worker hands a verified identity to a Durable Object with a WebSocket upgrade. */
export const ACTOR_HEADER = "x-switchboard-actor";
