import { BOT_USER_ID } from "../protocol/ids";
import type { MessageContent, SentContent } from "./kinds";
import { fail, ok, type Result } from "./result";
import type { ConversationStore } from "./store";

/** A sent body made ready for the log, with the upload it sends (if any). */
export interface Composed {
  content: MessageContent;
  replyTo: number | undefined;
  attachmentId: string | undefined;
}

/**
 * Complete a checked body with what only the conversation knows, or refuse it: mentions and approvers
 * must be members, a reply needs a message to reply to, an attachment's facts come from the sender's
 * own upload (never from the body), a CRM card about an object already shown references the first
 * card, and an approval request starts pending.
 */
export function compose(store: ConversationStore, sender: string, sent: SentContent, replyTo: number | undefined): Result<Composed> {
  if (sent.kind === "crm" && sender !== BOT_USER_ID) return fail("forbidden", "kind: crm cards are posted by the tenant's bot");
  const mention = sent.kind === "text" ? unknownMention(store, sent.body.mentions) : undefined;
  if (mention !== undefined) return fail("invalid_request", `body.mentions: ${mention} is not a member`);
  if (replyTo !== undefined) {
    const target = store.log.message(replyTo);
    if (!target || target.kind === "system") return fail("invalid_request", `replyTo: no message ${replyTo} to reply to`);
  }
  switch (sent.kind) {
    case "text":
    case "log":
      return ok({ content: sent, replyTo, attachmentId: undefined });
    case "image":
    case "file": {
      const upload = store.attachments.get(sent.body.attachment.id);
      if (!upload || upload.uploader !== sender) return noUpload();
      if (sent.kind === "image" && !upload.contentType.startsWith("image/")) return fail("invalid_request", "kind: image needs an image attachment");
      const body = { ...sent.body, attachment: { id: upload.id, name: upload.name, size: upload.size, contentType: upload.contentType } };
      if (upload.width !== undefined && upload.height !== undefined) {
        body.width = upload.width;
        body.height = upload.height;
      }
      return ok({ content: { kind: sent.kind, body }, replyTo, attachmentId: upload.id });
    }
    case "approval": {
      let attachment = sent.body.attachment;
      if (attachment) {
        const upload = store.attachments.get(attachment.id);
        if (!upload || upload.uploader !== sender) return noUpload();
        attachment = { id: upload.id, name: upload.name, size: upload.size, contentType: upload.contentType };
      }
      const outsider = sent.body.approvers.find((a) => !store.members.member(a));
      if (outsider !== undefined) return fail("invalid_request", `body.approvers: ${outsider} is not a member`);
      const body = { ...sent.body, ...(attachment ? { attachment } : {}), state: "pending" as const, decisions: [] };
      return ok({ content: { kind: "approval", body }, replyTo, attachmentId: attachment?.id });
    }
    case "crm": {
      // A later event about the same CRM object is a new card that references the first one.
      const { updates: _claimed, ...card } = sent.body;
      const first = store.log.firstCard(card.source, card.objectType, card.objectId);
      const body = first === undefined ? card : { ...card, updates: first };
      return ok({ content: { kind: "crm", body }, replyTo: replyTo ?? first, attachmentId: undefined });
    }
  }
}

/** The first mention that is neither "all" nor a member, if any. */
export function unknownMention(store: ConversationStore, mentions: readonly string[] | undefined): string | undefined {
  return mentions?.find((m) => m !== "all" && !store.members.member(m));
}

function noUpload() {
  return fail("invalid_request", "body.attachment.id: no such upload of yours in this conversation");
}
