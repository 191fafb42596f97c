// How the terminal chat prints messages and device-channel frames: every kind in words.

const list = (items) => (items && items.length > 0 ? items.join("; ") : "none");
const bytes = (n) => (typeof n !== "number" ? "" : n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`);
const money = (b) => (typeof b.amount === "number" ? ` ${b.amount.toLocaleString("en-US")}${b.currency ? ` ${b.currency}` : ""}` : "");

function attachment(kind, b) {
  const a = b.attachment ?? {};
  const size = [b.width && b.height ? `${b.width}×${b.height}` : "", bytes(a.size)].filter(Boolean).join(", ");
  return `${kind === "image" ? "picture" : "file"} ${a.name ?? "?"}${size ? ` (${size})` : ""}${b.caption ? `: ${b.caption}` : ""}`;
}

function log(b) {
  return `work log ${b.date ?? ""}: done ${list(b.done)} · planned ${list(b.planned)} · blockers ${list(b.blockers)}${b.text ? ` · ${b.text}` : ""}`;
}

function approval(b) {
  if (typeof b.request === "number") {
    const verb = b.decision === "rejected" || b.decision === "reject" ? "rejects" : "approves";
    return `${verb} request #${b.request}${b.comment ? `: "${b.comment}"` : ""} (the request is now ${b.state ?? "pending"})`;
  }
  const state = b.state ? `, ${b.state}` : "";
  return `asks for approval: "${b.title ?? ""}"${money(b)}${b.details ? ` (${b.details})` : ""}, approvers ${(b.approvers ?? []).join(", ")}${state}`;
}

function card(b) {
  const facts = [b.company, b.contact, b.stage && `stage ${b.stage}`, b.owner && `owner ${b.owner}`].filter(Boolean).join(", ");
  const about = typeof b.updates === "number" ? ` (update of #${b.updates})` : "";
  return `${b.objectType ?? "crm"} card ${b.event ?? ""}: ${b.title ?? ""}${money(b)}${facts ? ` (${facts})` : ""}${about}${b.text ? ` ${b.text}` : ""}${b.url ? ` ${b.url}` : ""}`;
}

/** An edited body: a text's text, a log in words. */
function editedBody(body) {
  if (!body || typeof body !== "object") return "";
  if (typeof body.date === "string") return log(body);
  return String(body.text ?? JSON.stringify(body));
}

function system(b) {
  const target = b.target ? `#${b.target}` : "";
  const who = (b.userIds ?? []).join(", ");
  switch (b.event) {
    case "message_edited":
      return `edited ${target}: ${editedBody(b.body)}`;
    case "message_recalled":
      return `recalled ${target}`;
    case "reaction_added":
      return `reacted ${b.emoji ?? ""} to ${target}`;
    case "reaction_removed":
      return `took back ${b.emoji ?? ""} on ${target}`;
    case "card_action":
      return `pressed "${b.action ?? ""}" on card ${target}`;
    case "members_added":
      return `added ${who}`;
    case "member_removed":
      return `removed ${who}`;
    case "member_left":
      return `left`;
    case "role_changed":
      return `made ${who} ${b.role ?? "a member"}`;
    case "owner_changed":
      return `made ${who} the owner`;
    default:
      return `${b.event ?? "system event"} ${target} ${who}`.trim();
  }
}

/** One message as a line: `[seq] sender: what it is, in words`. */
export function renderMessage(message) {
  const b = message.body ?? {};
  let text;
  if (message.recalled) text = "(recalled)";
  else if (message.kind === "text") text = String(b.text ?? "");
  else if (message.kind === "image" || message.kind === "file") text = attachment(message.kind, b);
  else if (message.kind === "log") text = log(b);
  else if (message.kind === "approval") text = approval(b);
  else if (message.kind === "crm") text = card(b);
  else if (message.kind === "system") text = system(b);
  else text = `(${message.kind} message)`;
  // A system event is said by who caused it ("bob reacted…"); a decision already names its request.
  if (message.kind === "system" && !message.recalled) return `[${message.seq}] ${b.actor ?? message.sender} ${text}`;
  const decision = message.kind === "approval" && typeof b.request === "number";
  const reply = typeof message.replyTo === "number" && !decision ? ` (reply to #${message.replyTo})` : "";
  return `[${message.seq}] ${message.sender}: ${text}${reply}${message.editedAt ? " (edited)" : ""}`;
}

/** A device-channel frame as a line, or undefined for frames not worth a line. */
export function renderDeviceFrame(frame, names = new Map()) {
  if (frame.type === "notify") {
    const where = names.get(frame.conversationId) ?? frame.conversationId;
    return `* new in ${where} [${frame.seq}] ${frame.sender}: ${frame.preview}${frame.muted ? " (muted)" : ""}`;
  }
  if (frame.type === "presence") return `* ${frame.userId} is ${frame.status}`;
  if (frame.type === "error") return `* device channel: ${frame.code}: ${frame.message}`;
  return undefined;
}
