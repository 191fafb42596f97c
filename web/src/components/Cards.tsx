import { useEffect, useState } from "react";
import type { JsonObject, Message } from "../../../src/client/index.ts";
import { formatAmount, formatSize } from "../format";
import { t, type MessageKey } from "../i18n";
import type { AppStore } from "../state/app-store";
import type { ConversationStore } from "../state/conversation-store";

export interface CardProps {
  message: Message;
  app: AppStore;
  store: ConversationStore;
}

interface AttachmentInfo {
  id: string;
  name: string;
  size: number;
  contentType: string;
}

const signedUrls = new Map<string, { url: string; expiresAt: number }>();

/** A signed link to an attachment (no bearer in the URL), refreshed when it is about to expire. */
async function attachmentLink(app: AppStore, conversationId: string, attachmentId: string): Promise<string> {
  const cached = signedUrls.get(attachmentId);
  if (cached && cached.expiresAt - Date.now() > 30_000) return cached.url;
  const fresh = await app.api.attachmentUrl(conversationId, attachmentId);
  signedUrls.set(attachmentId, fresh);
  return fresh.url;
}

function attachmentOf(body: JsonObject): AttachmentInfo | undefined {
  const a = body.attachment as Partial<AttachmentInfo> | undefined;
  if (!a || typeof a.id !== "string") return undefined;
  return { id: a.id, name: String(a.name ?? ""), size: Number(a.size ?? 0), contentType: String(a.contentType ?? "") };
}

export function ImageCard({ message, app }: CardProps) {
  const attachment = attachmentOf(message.body);
  const [src, setSrc] = useState<string>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!attachment) return;
    let live = true;
    attachmentLink(app, message.conversationId, attachment.id).then((url) => live && setSrc(url), (err: Error) => live && setError(err.message));
    return () => {
      live = false;
    };
  }, [attachment?.id]);
  if (!attachment) return null;
  const width = Number(message.body.width ?? 320);
  const height = Number(message.body.height ?? 240);
  const scale = Math.min(1, 320 / width, 240 / height);
  const open = async () => {
    try {
      window.open(await attachmentLink(app, message.conversationId, attachment.id), "_blank", "noopener");
    } catch (err) {
      app.report(err);
    }
  };
  return (
    <figure className="card image-card">
      <button type="button" className="thumb" onClick={open} aria-label={`${t("openFull")}: ${attachment.name}`} style={{ width: Math.round(width * scale), height: Math.round(height * scale) }}>
        {src ? <img src={src} alt={attachment.name} width={Math.round(width * scale)} height={Math.round(height * scale)} /> : <span className="muted">{error ?? t("loading")}</span>}
      </button>
      <figcaption>
        {typeof message.body.caption === "string" && message.body.caption ? <span>{message.body.caption} · </span> : null}
        <span className="muted">
          {attachment.name} · {formatSize(attachment.size)}
        </span>
      </figcaption>
    </figure>
  );
}

export function FileCard({ message, app }: CardProps) {
  const attachment = attachmentOf(message.body);
  if (!attachment) return null;
  const download = async () => {
    try {
      const a = document.createElement("a");
      a.href = await attachmentLink(app, message.conversationId, attachment.id);
      a.download = attachment.name;
      a.rel = "noopener";
      a.click();
    } catch (err) {
      app.report(err);
    }
  };
  return (
    <div className="card file-card">
      <span className="file-icon" aria-hidden="true">
        📄
      </span>
      <div>
        <div className="file-name">{attachment.name}</div>
        <div className="muted">
          {t("document")} · {formatSize(attachment.size)}
          {typeof message.body.caption === "string" && message.body.caption ? ` · ${message.body.caption}` : ""}
        </div>
      </div>
      <button type="button" onClick={download}>
        {t("download")}
      </button>
    </div>
  );
}

function List(props: { label: MessageKey; items: unknown }) {
  const items = Array.isArray(props.items) ? props.items.map(String) : [];
  if (items.length === 0) return null;
  return (
    <section className={`log-list log-${props.label}`}>
      <h4>{t(props.label)}</h4>
      <ul>
        {items.map((item, i) => (
          <li key={i}>{item}</li>
        ))}
      </ul>
    </section>
  );
}

export function LogCard({ message }: CardProps) {
  const b = message.body;
  return (
    <div className="card log-card">
      <div className="card-title">
        {t("workLog")} · {String(b.date ?? "")}
      </div>
      <List label="logDone" items={b.done} />
      <List label="logPlanned" items={b.planned} />
      <List label="logBlockers" items={b.blockers} />
      {typeof b.text === "string" && b.text ? <p>{b.text}</p> : null}
    </div>
  );
}

const STATE_LABEL: Record<string, MessageKey> = { pending: "statePending", approved: "stateApproved", rejected: "stateRejected" };

export function ApprovalCard({ message, app, store }: CardProps) {
  const b = message.body;
  const [busy, setBusy] = useState(false);
  if (typeof b.request === "number") {
    const request = store.message(b.request);
    const title = String(request?.body.title ?? `#${b.request}`);
    const key = b.decision === "approved" ? "decisionApproved" : "decisionRejected";
    return <p className="system-line">{t(key, { name: app.nameOf(message.sender), title })}</p>;
  }
  const approvers = Array.isArray(b.approvers) ? b.approvers.map(String) : [];
  const decisions = (Array.isArray(b.decisions) ? b.decisions : []) as JsonObject[];
  const state = String(b.state ?? "pending");
  const me = app.session.userId;
  const canDecide = state === "pending" && approvers.includes(me) && !decisions.some((d) => d.by === me);
  const decide = async (decision: "approve" | "reject") => {
    setBusy(true);
    await store.act(() => app.api.decide(store.id, message.seq, decision, crypto.randomUUID()));
    setBusy(false);
  };
  return (
    <div className={`card approval-card state-${state}`}>
      <div className="card-title">
        <span className="badge">{t("approvalRequest")}</span> {String(b.title ?? "")}
      </div>
      {typeof b.amount === "number" ? <div className="amount">{formatAmount(b.amount, typeof b.currency === "string" ? b.currency : undefined)}</div> : null}
      {typeof b.details === "string" && b.details ? <p>{b.details}</p> : null}
      <div className="approvers">
        <span className="muted">{t("approvers")}:</span>
        <ul>
          {approvers.map((a) => {
            const d = decisions.find((x) => x.by === a);
            const mark = d?.decision === "approved" ? "✓" : d?.decision === "rejected" ? "✗" : "…";
            const label = d?.decision === "approved" ? t("stateApproved") : d?.decision === "rejected" ? t("stateRejected") : t("statePending");
            return (
              <li key={a} className={`decision-${String(d?.decision ?? "pending")}`}>
                <span aria-hidden="true">{mark}</span> {app.nameOf(a)} <span className="visually-hidden">{label}</span>
              </li>
            );
          })}
        </ul>
      </div>
      <div className="approval-state" role="status">
        {t(STATE_LABEL[state] ?? "statePending")}
      </div>
      {canDecide ? (
        <div className="card-actions">
          <button type="button" className="primary" disabled={busy} onClick={() => void decide("approve")}>
            {t("approve")}
          </button>
          <button type="button" className="danger" disabled={busy} onClick={() => void decide("reject")}>
            {t("reject")}
          </button>
        </div>
      ) : null}
    </div>
  );
}

const CRM_TYPE: Record<string, MessageKey> = { lead: "crmLead", opportunity: "crmOpportunity", customer: "crmCustomer" };

function CrmFields({ body, app }: { body: JsonObject; app: AppStore }) {
  const rows: [MessageKey, string][] = [];
  if (typeof body.company === "string" && body.company) rows.push(["company", body.company]);
  if (typeof body.contact === "string" && body.contact) rows.push(["contact", body.contact]);
  if (typeof body.stage === "string" && body.stage) rows.push(["stage", body.stage]);
  if (typeof body.amount === "number") rows.push(["amount", formatAmount(body.amount, typeof body.currency === "string" ? body.currency : undefined)]);
  if (typeof body.owner === "string" && body.owner) rows.push(["owner", app.nameOf(body.owner)]);
  return (
    <dl className="crm-fields">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{t(k)}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function CrmCard({ message, app, store }: CardProps) {
  const b = message.body;
  const type = String(b.objectType ?? "");
  const updates = store.crmUpdates.get(message.seq) ?? [];
  const latest = updates.length > 0 ? store.message(updates[updates.length - 1]!) : undefined;
  const isUpdate = typeof b.updates === "number";
  return (
    <div className={`card crm-card crm-${type}`}>
      <div className="card-title">
        <span className="badge">{CRM_TYPE[type] ? t(CRM_TYPE[type]) : type}</span> {String(b.title ?? "")}
      </div>
      {isUpdate ? <div className="muted">{t("updatesCard")} · {String(b.event ?? "")}</div> : null}
      <CrmFields body={b} app={app} />
      {typeof b.text === "string" && b.text ? <p>{b.text}</p> : null}
      {latest ? (
        <p className="crm-latest">
          {t("laterUpdates", {
            n: updates.length,
            what: [latest.body.stage, typeof latest.body.amount === "number" ? formatAmount(latest.body.amount, typeof latest.body.currency === "string" ? latest.body.currency : undefined) : undefined].filter(Boolean).join(" · ") || String(latest.body.event ?? ""),
          })}
        </p>
      ) : null}
      {typeof b.url === "string" && /^https?:\/\//.test(b.url) ? (
        <a href={b.url} target="_blank" rel="noopener noreferrer">
          {t("openInCrm")} ↗
        </a>
      ) : null}
    </div>
  );
}

/** A `system` membership event in words. */
export function systemText(message: Message, app: AppStore): string {
  const b = message.body;
  const users = (Array.isArray(b.userIds) ? b.userIds.map(String) : []).map((u) => app.nameOf(u)).join(", ");
  const actor = app.nameOf(String(b.actor ?? ""));
  const roleKey: MessageKey = b.role === "owner" ? "roleOwner" : b.role === "admin" ? "roleAdmin" : "roleMember";
  switch (b.event) {
    case "members_added":
      return t("sysMembersAdded", { actor, users });
    case "member_removed":
      return t("sysMemberRemoved", { actor, users });
    case "member_left":
      return t("sysMemberLeft", { users: users || actor });
    case "role_changed":
      return t("sysRoleChanged", { actor, users, role: t(roleKey) });
    case "owner_changed":
      return t("sysOwnerChanged", { actor, users });
    case "card_action":
      return t("sysCardAction", { actor, action: String(b.action ?? "") });
    default:
      return String(b.event ?? "");
  }
}
