import type { JsonObject, Message } from "../protocol/frames";
import { EDITABLE_KINDS, type EditableKind } from "./kinds";
import { fail, type Failure } from "./result";

/**
 * How long after sending a message may still be edited or recalled by its author: the tenant's
 * settings (`editWindowSeconds`, `recallWindowSeconds`), read by the conversation object.
 */
export interface LifecyclePolicy {
  editWindowMs: number;
  recallWindowMs: number;
}

/** The windows of a tenant that set none. */
export const DEFAULT_EDIT_WINDOW_SECONDS = 86_400;
export const DEFAULT_RECALL_WINDOW_SECONDS = 600;

/** The policy from the tenant's settings in seconds (absent: the defaults). */
export function lifecyclePolicy(editWindowSeconds?: number | null, recallWindowSeconds?: number | null): LifecyclePolicy {
  return {
    editWindowMs: (editWindowSeconds ?? DEFAULT_EDIT_WINDOW_SECONDS) * 1000,
    recallWindowMs: (recallWindowSeconds ?? DEFAULT_RECALL_WINDOW_SECONDS) * 1000,
  };
}

/** Most distinct emoji one person may put on one message. */
export const REACTIONS_PER_USER_MESSAGE = 20;

export function isEditableKind(kind: string): kind is EditableKind {
  return EDITABLE_KINDS.some((k) => k === kind);
}

/** Why `editor` may not edit `target` now, or undefined when they may: only its author, within the window. */
export function editRefusal(target: Message, editor: string, policy: LifecyclePolicy, now: number): Failure | undefined {
  if (target.sender !== editor) return fail("forbidden", "only the author can edit a message");
  if (target.recalled) return fail("conflict", "the message was recalled");
  if (!isEditableKind(target.kind)) return fail("invalid_request", `kind: ${target.kind} messages cannot be edited`);
  if (now - target.ts > policy.editWindowMs) return fail("forbidden", `messages can be edited for ${Math.round(policy.editWindowMs / 1000)} s after sending`);
  return undefined;
}

/**
 * Why `recaller` may not recall `target` now, or undefined when they may: its author within the
 * window, or a moderator (a group's owner or admin) at any time.
 */
export function recallRefusal(target: Message, recaller: string, moderator: boolean, policy: LifecyclePolicy, now: number): Failure | undefined {
  if (moderator) return undefined;
  if (target.sender !== recaller) return fail("forbidden", "only the author or a group admin can recall a message");
  if (now - target.ts > policy.recallWindowMs) return fail("forbidden", `messages can be recalled for ${Math.round(policy.recallWindowMs / 1000)} s after sending`);
  return undefined;
}

/** A `message_edited` event without the body it carried: it keeps its place in the sequence. */
export function redactedEditEvent(body: JsonObject): JsonObject {
  const { body: _body, ...rest } = body;
  return { ...rest, redacted: true };
}
