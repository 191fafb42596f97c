import type { JsonValue, Message } from "../protocol/frames";
import type { ApprovalDecision, ApprovalState } from "./kinds";
import { fail, ok, type Result } from "./result";

/**
 * Approval requests: only listed approvers decide, each once; one rejection rejects, and the request
 * is approved when every approver has approved. A decided request takes no more decisions. Pure rules
 * over the request's state; the conversation stores the outcome.
 */

export interface ApprovalRequestState {
  approvers: string[];
  state: ApprovalState;
  decisions: ApprovalDecision[];
}

/** Is this stored message an approval request (not a decision about one)? */
export function isApprovalRequest(message: Message): boolean {
  return message.kind === "approval" && message.body.request === undefined;
}

/** The state of a stored approval request, read from its body; undefined when the body is not one. */
export function approvalStateOf(message: Message): ApprovalRequestState | undefined {
  if (!isApprovalRequest(message)) return undefined;
  const { approvers, state, decisions } = message.body;
  if (!isStringArray(approvers) || !isApprovalState(state) || !Array.isArray(decisions)) return undefined;
  const parsed: ApprovalDecision[] = [];
  for (const d of decisions) {
    const decision = decisionOf(d);
    if (!decision) return undefined;
    parsed.push(decision);
  }
  return { approvers, state, decisions: parsed };
}

/** Record `by`'s decision: the request's next state and decisions, or why it is refused. */
export function decideApproval(
  request: ApprovalRequestState,
  by: string,
  input: { decision: "approve" | "reject"; comment?: string | undefined },
  now: number,
): Result<ApprovalRequestState & { verdict: "approved" | "rejected" }> {
  if (!request.approvers.includes(by)) return fail("forbidden", "only the listed approvers can decide");
  if (request.state !== "pending") return fail("conflict", `the request is already ${request.state}`);
  if (request.decisions.some((d) => d.by === by)) return fail("conflict", "you have already decided this request");
  const verdict = input.decision === "approve" ? "approved" : "rejected";
  const decisions: ApprovalDecision[] = [...request.decisions, { by, decision: verdict, ...(input.comment ? { comment: input.comment } : {}), at: now }];
  const approvedBy = new Set(decisions.filter((d) => d.decision === "approved").map((d) => d.by));
  const state: ApprovalState = verdict === "rejected" ? "rejected" : request.approvers.every((a) => approvedBy.has(a)) ? "approved" : "pending";
  return ok({ approvers: request.approvers, state, decisions, verdict });
}

function isStringArray(value: JsonValue | undefined): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

function isApprovalState(value: JsonValue | undefined): value is ApprovalState {
  return value === "pending" || value === "approved" || value === "rejected";
}

function decisionOf(value: JsonValue): ApprovalDecision | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { by, decision, comment, at } = value;
  if (typeof by !== "string" || (decision !== "approved" && decision !== "rejected") || typeof at !== "number") return undefined;
  return typeof comment === "string" ? { by, decision, comment, at } : { by, decision, at };
}
