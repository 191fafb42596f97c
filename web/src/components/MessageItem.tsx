import { memo, useEffect, useRef, useState, type CSSProperties, type KeyboardEvent } from "react";
import { createPortal } from "react-dom";
import type { Message, Receipts } from "../../../src/client/index.ts";
import { errorText, formatTime } from "../format";
import { t } from "../i18n";
import type { AppStore } from "../state/app-store";
import type { ConversationStore } from "../state/conversation-store";
import { ApprovalCard, CrmCard, FileCard, ImageCard, LogCard, systemText } from "./Cards";
import { Dialog, FormActions, FormError } from "./Dialog";
import { LogForm, type LogFields } from "./forms";

const strings = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
function logFields(m: Message): LogFields {
  const b = m.body;
  return { date: String(b.date ?? ""), done: strings(b.done), planned: strings(b.planned), blockers: strings(b.blockers), ...(typeof b.text === "string" ? { text: b.text } : {}) };
}

export const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉", "✅", "👀"];

interface ItemProps {
  message: Message;
  app: AppStore;
  store: ConversationStore;
  /** Changes whenever the store does, so memoised rows re-render with it. */
  version: number;
  highlighted: boolean;
  /** Follows a message of the same person: no avatar or name line. */
  compact?: boolean;
  onReply: (seq: number) => void;
}

function Body({ message, app, store }: Pick<ItemProps, "message" | "app" | "store">) {
  if (message.recalled) return <p className="recalled">{t("recalled")}</p>;
  const props = { message, app, store };
  switch (message.kind) {
    case "text":
      return <TextBody text={String(message.body.text ?? "")} mentions={Array.isArray(message.body.mentions) ? message.body.mentions.map(String) : []} app={app} />;
    case "image":
      return <ImageCard {...props} />;
    case "file":
      return <FileCard {...props} />;
    case "log":
      return <LogCard {...props} />;
    case "approval":
      return <ApprovalCard {...props} />;
    case "crm":
      return <CrmCard {...props} />;
    default:
      return <p className="muted">[{message.kind}]</p>;
  }
}

/** Text with `@Name` mentions of the listed people highlighted. */
function TextBody(props: { text: string; mentions: string[]; app: AppStore }) {
  const names = props.mentions.map((m) => (m === "all" ? "all" : props.app.nameOf(m))).filter(Boolean);
  if (names.length === 0) return <p className="text">{props.text}</p>;
  const pattern = new RegExp(`(@(?:${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")}))`, "g");
  return (
    <p className="text">
      {props.text.split(pattern).map((part, i) => (i % 2 === 1 ? <mark className="mention" key={i}>{part}</mark> : part))}
    </p>
  );
}

export const MessageItem = memo(function MessageItem({ message, app, store, highlighted, compact, onReply }: ItemProps) {
  const me = app.session.userId;
  const mine = message.sender === me;
  if (message.kind === "system" || (message.kind === "approval" && typeof message.body.request === "number")) {
    return (
      <div className="row system" data-seq={message.seq}>
        {message.kind === "system" ? <p className="system-line">{systemText(message, app)}</p> : <Body message={message} app={app} store={store} />}
      </div>
    );
  }
  const replied = message.replyTo !== undefined && message.kind !== "crm" ? store.message(message.replyTo) : undefined;
  const reactions = message.recalled ? [] : Object.entries(message.reactions ?? {});
  const receipt = mine ? store.readCount(message.seq) : undefined;
  return (
    <article className={`row message${mine ? " mine" : ""}${highlighted ? " highlighted" : ""}${compact ? " compact" : ""}`} data-seq={message.seq} aria-label={`${app.nameOf(message.sender)} ${formatTime(message.ts)}`} tabIndex={-1}>
      <div className="avatar" aria-hidden="true">
        {app.nameOf(message.sender).slice(0, 1).toUpperCase()}
      </div>
      <div className="bubble">
        <div className="meta">
          <span className="sender">{app.nameOf(message.sender)}</span>
          <time dateTime={new Date(message.ts).toISOString()}>{formatTime(message.ts)}</time>
          {message.editedAt && !message.recalled ? <span className="marker">({t("edited")})</span> : null}
        </div>
        {replied ? (
          <blockquote className="quote">
            <strong>{app.nameOf(replied.sender)}</strong> {replied.recalled ? t("recalled") : String(replied.body.text ?? replied.body.title ?? `[${replied.kind}]`).slice(0, 120)}
          </blockquote>
        ) : null}
        <Body message={message} app={app} store={store} />
        {reactions.length > 0 ? (
          <div className="reactions" role="group" aria-label={t("reactions")}>
            {reactions.map(([emoji, users]) => (
              <button
                type="button"
                key={emoji}
                className="reaction"
                aria-pressed={users.includes(me)}
                title={t("reactedBy", { emoji, names: users.map((u) => app.nameOf(u)).join(", ") })}
                onClick={() => void store.react(message.seq, emoji)}
              >
                {emoji} {users.length}
              </button>
            ))}
          </div>
        ) : null}
        {receipt && receipt.of > 0 && !message.recalled ? <ReadReceipt store={store} app={app} seq={message.seq} count={receipt.count} of={receipt.of} /> : null}
      </div>
      {message.recalled ? null : <Actions message={message} app={app} store={store} onReply={onReply} />}
    </article>
  );
});

function ReadReceipt(props: { store: ConversationStore; app: AppStore; seq: number; count: number; of: number }) {
  const [open, setOpen] = useState(false);
  const [receipts, setReceipts] = useState<Receipts>();
  const [error, setError] = useState<string>();
  const show = async () => {
    setOpen(true);
    try {
      setReceipts(await props.app.api.receipts(props.store.id, props.seq));
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <>
      <button type="button" className="link receipt" onClick={() => void show()}>
        {t("readBy", { n: props.count, m: props.of })}
      </button>
      {open ? (
        <Dialog title={t("readers")} onClose={() => setOpen(false)}>
          <FormError error={error} />
          {receipts ? (
            receipts.readBy.length === 0 ? (
              <p>{t("nobodyYet")}</p>
            ) : (
              <ul className="people">
                {receipts.readBy.map((u) => (
                  <li key={u}>{props.app.nameOf(u)}</li>
                ))}
              </ul>
            )
          ) : (
            <p>{t("loading")}</p>
          )}
          <p className="muted">{t("readBy", { n: receipts?.count ?? props.count, m: receipts?.of ?? props.of })}</p>
        </Dialog>
      ) : null}
    </>
  );
}

function Actions({ message, app, store, onReply }: Pick<ItemProps, "message" | "app" | "store" | "onReply">) {
  const [open, setOpen] = useState(false);
  const [editing, setEditing] = useState(false);
  const menu = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const mine = message.sender === app.session.userId;
  const role = store.info?.roles?.[app.session.userId];
  const canRecall = mine || (store.info?.type === "group" && (role === "owner" || role === "admin"));
  const [place, setPlace] = useState<CSSProperties>({});
  useEffect(() => {
    if (open) menu.current?.querySelector<HTMLButtonElement>("button")?.focus();
  }, [open]);
  // The menu lives in a portal (the virtualised list clips and transforms its rows), placed by the
  // button: below it when there is room, above it otherwise.
  const openMenu = () => {
    const rect = button.current?.getBoundingClientRect();
    if (rect) {
      const right = window.innerWidth - rect.right;
      setPlace(rect.bottom + 260 < window.innerHeight ? { top: rect.bottom + 4, right } : { bottom: window.innerHeight - rect.top + 4, right });
    }
    setOpen(true);
  };
  const close = () => {
    setOpen(false);
    button.current?.focus();
  };
  const run = (action: () => void) => () => {
    setOpen(false);
    action();
  };
  const onKey = (e: KeyboardEvent) => {
    const items = [...(menu.current?.querySelectorAll<HTMLButtonElement>("button") ?? [])];
    const at = items.indexOf(document.activeElement as HTMLButtonElement);
    if (e.key === "Escape") {
      e.stopPropagation();
      close();
    } else if (e.key === "ArrowDown" || e.key === "ArrowRight") {
      e.preventDefault();
      items[(at + 1) % items.length]?.focus();
    } else if (e.key === "ArrowUp" || e.key === "ArrowLeft") {
      e.preventDefault();
      items[(at - 1 + items.length) % items.length]?.focus();
    }
  };
  return (
    <div className="actions">
      <button ref={button} type="button" className="icon more" aria-haspopup="menu" aria-expanded={open} aria-label={t("moreActions")} onClick={() => (open ? close() : openMenu())}>
        ⋯
      </button>
      {open ? createPortal(
        <div ref={menu} className="menu" style={place} role="menu" aria-label={t("moreActions")} onKeyDown={onKey} onBlur={(e) => !e.currentTarget.contains(e.relatedTarget) && setOpen(false)}>
          <div className="menu-emoji" role="group" aria-label={t("react")}>
            {QUICK_REACTIONS.map((emoji) => (
              <button type="button" role="menuitem" key={emoji} aria-label={`${t("react")} ${emoji}`} onClick={run(() => void store.react(message.seq, emoji))}>
                {emoji}
              </button>
            ))}
          </div>
          <button type="button" role="menuitem" onClick={run(() => onReply(message.seq))}>
            {t("reply")}
          </button>
          {mine && (message.kind === "text" || message.kind === "log") ? (
            <button type="button" role="menuitem" onClick={run(() => setEditing(true))}>
              {t("edit")}
            </button>
          ) : null}
          {canRecall ? (
            <button type="button" role="menuitem" onClick={run(() => void store.act(() => app.api.recall(store.id, message.seq)))}>
              {t("recall")}
            </button>
          ) : null}
          <button type="button" role="menuitem" onClick={run(() => void store.act(() => app.api.deleteForMe(store.id, message.seq)))}>
            {t("deleteForMe")}
          </button>
        </div>,
        document.body,
      ) : null}
      {editing && message.kind === "log" ? (
        <LogForm
          store={store}
          initial={logFields(message)}
          onSave={async (body) => void (await app.api.edit(store.id, message.seq, body))}
          onClose={() => setEditing(false)}
        />
      ) : editing ? (
        <EditDialog message={message} app={app} store={store} onClose={() => setEditing(false)} />
      ) : null}
    </div>
  );
}

function EditDialog(props: { message: Message; app: AppStore; store: ConversationStore; onClose: () => void }) {
  const [text, setText] = useState(String(props.message.body.text ?? ""));
  const [error, setError] = useState<string>();
  const save = async () => {
    try {
      const mentions = props.message.body.mentions;
      await props.app.api.edit(props.store.id, props.message.seq, { text, ...(Array.isArray(mentions) ? { mentions: mentions.map(String) } : {}) });
      props.onClose();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <Dialog title={t("editMessage")} onClose={props.onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <label className="field">
          <span>{t("messageLabel")}</span>
          <textarea value={text} onChange={(e) => setText(e.target.value)} rows={4} autoFocus />
        </label>
        <FormActions error={error} submitLabel={t("save")} onCancel={props.onClose} />
      </form>
    </Dialog>
  );
}
