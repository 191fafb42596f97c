import type { Message } from "../protocol/frames";
import { parseStoredObject } from "../protocol/json";
import type { MessageRow } from "./room-schema";

/**
 * The columns a message is shown from, as a conversation object's log and the D1 history both keep them
 * (the history keeps no replies).
 */
export type MessageColumns = Pick<MessageRow, "seq" | "client_id" | "sender" | "kind" | "body" | "ts" | "edited_at" | "recalled"> & {
  reply_to?: number | null;
};

/** A stored message as the API shows it. */
export function messageFromRow(conversationId: string, r: MessageColumns): Message {
  const message: Message = {
    conversationId,
    seq: r.seq,
    clientId: r.client_id,
    sender: r.sender,
    kind: r.kind,
    body: parseStoredObject(r.body, `message ${r.seq}`),
    ts: r.ts,
  };
  if (r.reply_to !== undefined && r.reply_to !== null) message.replyTo = r.reply_to;
  if (r.edited_at !== null) message.editedAt = r.edited_at;
  if (r.recalled === 1) message.recalled = true;
  return message;
}
