import type { Conversation } from "../../../src/client/index.ts";
import { formatListTime } from "../format";
import { t } from "../i18n";
import type { AppStore } from "../state/app-store";

/** The server's preview when it sent one; otherwise made here from the message (live updates). */
function preview(c: Conversation, app: AppStore): string {
  const m = c.lastMessage;
  if (!m) return "";
  const b = m.body;
  const attachment = (b.attachment ?? {}) as { name?: unknown };
  const made: Record<string, string> = {
    text: String(b.text ?? ""),
    image: `[${t("picture")}] ${String(attachment.name ?? "")}`,
    file: `[${t("document")}] ${String(attachment.name ?? "")}`,
    log: `[${t("workLog")}] ${String(b.date ?? "")}`,
    approval: typeof b.request === "number" ? `[${t("approvalRequest")}]` : `[${t("approvalRequest")}] ${String(b.title ?? "")}`,
    crm: `[${String(b.objectType ?? "CRM")}] ${String(b.title ?? "")}`,
  };
  const text = m.recalled ? t("recalled") : (m.preview ?? made[m.kind] ?? "");
  return c.type === "group" && m.sender !== "system" ? `${app.nameOf(m.sender)}: ${text}` : text;
}

/** Conversations, most recent first, with unread badges, previews, mute markers and presence dots. */
export function ConversationList(props: { app: AppStore; selected: string | undefined; onSelect: (id: string) => void }) {
  const { app } = props;
  if (app.listLoaded && app.conversations.length === 0) return <p className="empty small">{t("noConversations")}</p>;
  return (
    <ul className="conversation-list">
      {app.conversations.map((c) => {
        const partner = c.type === "direct" ? app.partnerOf(c) : undefined;
        const status = partner ? (app.presence.get(partner) ?? "offline") : undefined;
        const title = app.titleOf(c);
        return (
          <li key={c.id}>
            <button
              type="button"
              className={`conversation-item${c.id === props.selected ? " selected" : ""}${c.unread > 0 ? " has-unread" : ""}`}
              aria-current={c.id === props.selected ? "true" : undefined}
              data-conversation={c.id}
              onClick={() => props.onSelect(c.id)}
            >
              <span className="avatar" aria-hidden="true">
                {title.slice(0, 1).toUpperCase()}
                {status ? <span className={`dot ${status}`} /> : null}
              </span>
              <span className="item-main">
                <span className="item-top">
                  <span className="item-title">{title}</span>
                  {status ? <span className="visually-hidden">({t(status)})</span> : null}
                  {c.muted ? (
                    <span className="muted-marker" title={t("muted")}>
                      <span aria-hidden="true">🔕</span>
                      <span className="visually-hidden">{t("muted")}</span>
                    </span>
                  ) : null}
                  <span className="item-time">{c.lastMessage ? formatListTime(c.lastMessage.ts) : ""}</span>
                </span>
                <span className="item-bottom">
                  <span className="item-preview">{preview(c, app)}</span>
                  {c.unread > 0 ? (
                    <span className="unread" aria-label={t("unread", { n: c.unread })}>
                      {c.unread}
                    </span>
                  ) : null}
                </span>
              </span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}
