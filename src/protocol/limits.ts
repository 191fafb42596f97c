/**
 * Every size and count the service enforces, in one place. docs/protocol.md lists the same numbers;
 * the protocol test suite checks the server against these constants, so change both together.
 */
export const LIMITS = {
  /** Largest WebSocket text frame a client may send (bytes, UTF-8). */
  frameBytes: 32 * 1024,
  /** Largest HTTP request body (bytes). Larger bodies are refused with 413 before parsing. */
  httpBodyBytes: 64 * 1024,
  /** Largest serialized message `body` (bytes of its JSON). */
  messageBodyBytes: 16 * 1024,
  /** Longest text message (characters, UTF-16 code units). */
  textChars: 8_000,
  /** Longest client-chosen message id. */
  clientIdChars: 128,
  /** Most `@mentions` in one message. */
  mentionsPerMessage: 50,
  /** Longest group name (characters). */
  groupNameChars: 120,
  /** Most members of one group, owner included. */
  membersPerGroup: 1_000,
  /** Most user ids in one add-members or create-group call. */
  userIdsPerCall: 200,
  /** Most open WebSockets on one conversation. */
  socketsPerConversation: 10_000,
  /** History page size: default and maximum. */
  historyPageDefault: 50,
  historyPageMax: 200,
  /** Conversations returned by GET /v1/conversations: default and maximum. */
  conversationListDefault: 100,
  conversationListMax: 500,
  /** Per-device send budget: a token bucket with this burst and refill per second. */
  sendBurst: 300,
  sendPerSecond: 50,
  /** Per-user send budget in one conversation, across all of the user's devices (and HTTP). */
  sendUserBurst: 300,
  sendUserPerSecond: 100,
  /** Most open WebSockets of one user on one conversation, and device channels of one user. */
  socketsPerUser: 16,
  /** Most rate buckets a conversation object keeps in memory (keys include client-chosen device ids). */
  rateBucketsPerConversation: 4_096,
  /** Typing indicators relayed per device per second (extra ones are dropped silently). */
  typingPerSecond: 2,
  /** User token lifetime bounds (seconds). */
  tokenTtlMinSeconds: 60,
  tokenTtlMaxSeconds: 30 * 24 * 3600,
  /** Profile fields. */
  userNameChars: 200,
  userTitleChars: 200,
  urlChars: 2_048,
  tenantNameChars: 200,
} as const;

/** Per-tenant HTTP ceiling, enforced by the TENANT_LIMITER binding (see wrangler.toml). */
export const TENANT_HTTP_LIMIT = { limit: 3000, periodSeconds: 10 } as const;
