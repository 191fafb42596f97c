/**
 * The WebSocket close codes the server ends a socket with (docs/protocol.md). RFC 6455 §7.4.2 leaves
 * 4000–4999 to applications; ours read as 4000 + the matching HTTP status. A client must not reconnect
 * after any of them. No imports, so the client SDK can load it at runtime in Node as well as in bundles.
 */
export const CLOSE_CODES = {
  /** The user's tokens were revoked or the user was deactivated: sign in again. */
  revoked: 4401,
  /** The user is no longer a member of the conversation. */
  notMember: 4403,
  /** The device whose channel this is was deleted. */
  deviceDeleted: 4410,
} as const;
