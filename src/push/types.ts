/** Push delivery: one provider per platform behind one interface; the queue consumer drives them. */

export const PUSH_PLATFORMS = ["webpush", "fcm", "apns", "webhook"] as const;
export type PushPlatform = (typeof PUSH_PLATFORMS)[number];

/** A Web Push subscription as the browser's PushManager returns it. */
export interface WebPushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** Where a device receives pushes. Exactly the field its platform needs is set. */
export type PushTarget =
  | { platform: "webpush"; subscription: WebPushSubscription }
  | { platform: "fcm"; token: string }
  | { platform: "apns"; token: string }
  | { platform: "webhook"; endpoint: string };

/** What a push says. `badge` is the recipient's total unread count, computed by the server. */
export interface PushNotification {
  tenantId: string;
  userId: string;
  deviceId: string;
  conversationId: string;
  seq: number;
  sender: string;
  preview: string;
  badge: number;
  /** Conversation name (groups) or the sender (direct), for the notification title. */
  title: string;
}

/** The outcome of one delivery attempt, which decides ack, retry or device removal. */
export type PushOutcome =
  | { kind: "delivered"; status: number }
  /** Transient (429, 5xx, timeouts, network): retry with backoff, at least `retryAfterSeconds` when given. */
  | { kind: "retry"; reason: string; status?: number; retryAfterSeconds?: number }
  /** The target no longer exists (404/410, UNREGISTERED, Unregistered, BadDeviceToken): delete the device. */
  | { kind: "gone"; reason: string; status: number }
  /** Permanent for this message (bad payload, credentials, not configured): ack and record. */
  | { kind: "failed"; reason: string; status?: number };

export interface PushProvider {
  readonly platform: PushPlatform;
  send(target: PushTarget, notification: PushNotification): Promise<PushOutcome>;
}

/** What providers take from the outside world, injectable so tests can pin time and responses. */
export interface PushDeps {
  fetch: typeof fetch;
  now: () => number;
}
