import { z } from "zod";
import type { PushNotification, PushTarget } from "./types";

/**
 * One queue message: one notification to one device. It carries its target so the consumer needs no
 * lookup, and an id (tenant, conversation, seq, user, device) that makes redelivery idempotent.
 */
export interface PushJob {
  jobId: string;
  target: PushTarget;
  notification: PushNotification;
  createdAt: number;
}

export function pushJobId(n: Pick<PushNotification, "tenantId" | "conversationId" | "seq" | "userId" | "deviceId">): string {
  return [n.tenantId, n.conversationId, n.seq, n.userId, n.deviceId].join(":");
}

const Target = z.discriminatedUnion("platform", [
  z.object({
    platform: z.literal("webpush"),
    subscription: z.object({ endpoint: z.string(), keys: z.object({ p256dh: z.string(), auth: z.string() }) }),
  }),
  z.object({ platform: z.literal("fcm"), token: z.string() }),
  z.object({ platform: z.literal("apns"), token: z.string() }),
  z.object({ platform: z.literal("webhook"), endpoint: z.string() }),
]);

const Job = z.object({
  jobId: z.string(),
  target: Target,
  notification: z.object({
    tenantId: z.string(),
    userId: z.string(),
    deviceId: z.string(),
    conversationId: z.string(),
    seq: z.number().int(),
    sender: z.string(),
    preview: z.string(),
    badge: z.number().int().min(0),
    title: z.string(),
  }),
  createdAt: z.number(),
});

/** Decode a queue message body; undefined for anything that is not a push job. */
export function parsePushJob(body: unknown): PushJob | undefined {
  const parsed = Job.safeParse(body);
  return parsed.success ? parsed.data : undefined;
}
