import type { OutboundJob } from "../crm/outbound";
import { endpointsOf, type EndpointRow, type OutboundEventType } from "../storage/endpoints";
import type { StoredEffect } from "../storage/room-effects";
import type { RoomRecord } from "../storage/room-schema";
import type { OutboxHost } from "./outbox-host";

const OUTBOUND_BATCH = 100;
/** Queues take at most 100 messages per sendBatch. */
const QUEUE_BATCH = 100;

/**
 * Outbound CRM events of one conversation: message.created for every new message (a watermark over the
 * log), card.action and approval.decided from the effects outbox; one job per subscribed endpoint. The
 * endpoints are read in the same run (no cache): a new, changed or deleted endpoint applies to the
 * next event. Event ids make a redelivery harmless.
 */
export class OutboundEventsJob {
  constructor(private readonly host: OutboxHost) {}

  /** The tenant's endpoints: the ones the mirror flush read along, or a read of their own. */
  private async endpoints(room: RoomRecord, prefetched: EndpointRow[] | undefined): Promise<EndpointRow[]> {
    return prefetched ?? (await endpointsOf(this.host.env.DB, room.tenantId));
  }

  /** Hand the outbox's events to the queue (the outbox deletes them once this returns). */
  async deliverEffects(room: RoomRecord, effects: readonly StoredEffect[], prefetched: EndpointRow[] | undefined): Promise<void> {
    const endpoints = await this.endpoints(room, prefetched);
    const jobs: OutboundJob[] = [];
    for (const e of effects) {
      if (e.effect.kind !== "outbound") continue;
      const { type, payload, createdAt } = e.effect;
      for (const endpoint of subscribed(room, endpoints, type)) {
        jobs.push({
          eventId: `${room.conversationId}:${e.key}:${type}`,
          endpointId: endpoint.id,
          tenantId: room.tenantId,
          type,
          data: { conversation: conversationRef(room), ...payload },
          createdAt,
        });
      }
    }
    await this.enqueue(jobs);
  }

  /** message.created for the new messages above the watermark, which moves once the queue accepted the jobs. */
  async drainMessages(prefetched: EndpointRow[] | undefined): Promise<void> {
    const { store } = this.host;
    const room = store.header.require();
    if (room.outboundSeq >= room.lastSeq) return;
    const targets = subscribed(room, await this.endpoints(room, prefetched), "message.created");
    if (targets.length === 0) {
      // Nobody subscribes: nothing to hand over, and nothing to read.
      store.header.markOutboundSeq(room.lastSeq);
      return;
    }
    const messages = store.log.page({ after: room.outboundSeq, limit: OUTBOUND_BATCH });
    const now = Date.now();
    const jobs: OutboundJob[] = [];
    for (const m of messages) {
      if (m.kind === "system") continue;
      for (const e of targets) {
        jobs.push({
          eventId: `${room.conversationId}:${m.seq}:message.created`,
          endpointId: e.id,
          tenantId: room.tenantId,
          type: "message.created",
          data: { conversation: conversationRef(room), message: m },
          createdAt: now,
        });
      }
    }
    await this.enqueue(jobs);
    const last = messages.at(-1);
    if (last) store.header.markOutboundSeq(last.seq);
  }

  private async enqueue(jobs: OutboundJob[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += QUEUE_BATCH) await this.host.env.EVENTS_QUEUE.sendBatch(jobs.slice(i, i + QUEUE_BATCH).map((body) => ({ body })));
  }
}

function subscribed(room: RoomRecord, endpoints: EndpointRow[], type: OutboundEventType): EndpointRow[] {
  return endpoints.filter((e) => e.events.includes(type) && (e.conversationIds === null || e.conversationIds.includes(room.conversationId)));
}

function conversationRef(room: RoomRecord) {
  return { id: room.conversationId, type: room.type, name: room.name };
}
