import { useRef, useState, type ClipboardEvent, type DragEvent, type KeyboardEvent } from "react";
import { errorText, formatSize } from "../format";
import { t } from "../i18n";
import type { AppStore } from "../state/app-store";
import { ATTACHMENT_TYPES } from "../../../src/client/index.ts";
import type { ConversationStore } from "../state/conversation-store";
import { ApprovalForm, LogForm } from "./forms";
import { ApprovalIcon, LogIcon, PaperclipIcon } from "./icons";

/** What the server accepts; the tenant may allow fewer, and the server says so. */
const ACCEPTED = new Set<string>(ATTACHMENT_TYPES);
/** The largest attachment any tenant may allow; smaller tenant limits come back from the server as 413. */
const HARD_MAX_BYTES = 100 * 1024 * 1024;

interface Upload {
  id: number;
  name: string;
  sent: number;
  total: number;
  error: string | undefined;
}

let uploadIds = 0;

export function Composer(props: { app: AppStore; store: ConversationStore; replyTo: number | undefined; onReplyDone: () => void }) {
  const { app, store } = props;
  const [text, setText] = useState("");
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  const [pickerClosed, setPickerClosed] = useState(false);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [form, setForm] = useState<"log" | "approval">();
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const mentioned = useRef(new Map<string, string>());

  const members = (store.info?.members ?? []).filter((m) => m !== app.session.userId && m !== "bot");
  const query = /(?:^|\s)@([^\s@]*)$/.exec(text.slice(0, caret));
  const candidates = query && !pickerClosed
    ? members.filter((m) => m.toLowerCase().includes(query[1]!.toLowerCase()) || app.nameOf(m).toLowerCase().includes(query[1]!.toLowerCase())).slice(0, 8)
    : [];
  const replied = props.replyTo !== undefined ? store.message(props.replyTo) : undefined;

  const pick = (userId: string) => {
    const name = app.nameOf(userId);
    const before = text.slice(0, caret).replace(/@([^\s@]*)$/, `@${name} `);
    const next = before + text.slice(caret);
    mentioned.current.set(name, userId);
    setText(next);
    setCaret(before.length);
    requestAnimationFrame(() => input.current?.setSelectionRange(before.length, before.length));
  };

  const send = () => {
    const body = text.trim();
    if (!body) return;
    const mentions = [...mentioned.current].filter(([name]) => body.includes(`@${name}`)).map(([, id]) => id);
    store.send("text", { text: body, ...(mentions.length ? { mentions } : {}) }, props.replyTo);
    setText("");
    mentioned.current.clear();
    props.onReplyDone();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter that confirms an input method's composition (Chinese, Japanese, Korean) must not send.
    // Safari sends that keydown after compositionend, without isComposing but with keyCode 229.
    if (e.nativeEvent.isComposing || e.keyCode === 229) return;
    if (candidates.length > 0) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        setActive((a) => (a + (e.key === "ArrowDown" ? 1 : candidates.length - 1)) % candidates.length);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        pick(candidates[Math.min(active, candidates.length - 1)]!);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        setPickerClosed(true);
        return;
      }
    }
    if (e.key === "Escape" && props.replyTo !== undefined) props.onReplyDone();
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      send();
    }
  };

  const upload = async (file: File) => {
    const id = ++uploadIds;
    const patch = (p: Partial<Upload>) => setUploads((list) => list.map((u) => (u.id === id ? { ...u, ...p } : u)));
    const entry: Upload = { id, name: file.name || "pasted", sent: 0, total: file.size, error: undefined };
    setUploads((list) => [...list, entry]);
    if (!ACCEPTED.has(file.type)) return patch({ error: t("uploadType", { name: entry.name, type: file.type || "?" }) });
    if (file.size > HARD_MAX_BYTES) return patch({ error: t("uploadTooLarge", { name: entry.name, size: formatSize(file.size), limit: formatSize(HARD_MAX_BYTES) }) });
    try {
      const uploaded = await app.api.upload(store.id, file, entry.name, { onProgress: (sent, total) => patch({ sent, total }) });
      const attachment = { id: uploaded.id, name: uploaded.name, size: uploaded.size, contentType: uploaded.contentType };
      if (file.type.startsWith("image/")) {
        store.send("image", { attachment, ...(uploaded.width ? { width: uploaded.width } : {}), ...(uploaded.height ? { height: uploaded.height } : {}) });
      } else {
        store.send("file", { attachment });
      }
      setUploads((list) => list.filter((u) => u.id !== id));
    } catch (err) {
      patch({ error: t("uploadFailed", { name: entry.name, reason: errorText(err) }) });
    }
  };

  const onPaste = (e: ClipboardEvent) => {
    const files = [...e.clipboardData.files];
    if (files.length === 0) return;
    e.preventDefault();
    files.forEach((f) => void upload(f));
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    [...e.dataTransfer.files].forEach((f) => void upload(f));
  };

  return (
    <section className={`composer${dragging ? " dragging" : ""}`} aria-label={t("composer")} onDragOver={(e) => (e.preventDefault(), setDragging(true))} onDragLeave={() => setDragging(false)} onDrop={onDrop}>
      {replied ? (
        <div className="reply-bar">
          <span>
            {t("replyingTo", { name: app.nameOf(replied.sender) })}: <span className="muted">{String(replied.body.text ?? replied.body.title ?? `[${replied.kind}]`).slice(0, 80)}</span>
          </span>
          <button type="button" className="icon" onClick={props.onReplyDone} aria-label={t("cancel")}>
            ✕
          </button>
        </div>
      ) : null}
      {uploads.map((u) => (
        <div className="upload" key={u.id} role={u.error ? "alert" : "status"}>
          {u.error ? (
            <>
              <span className="form-error">{u.error}</span>
              <button type="button" className="link" onClick={() => setUploads((list) => list.filter((x) => x.id !== u.id))}>
                {t("dismiss")}
              </button>
            </>
          ) : (
            <>
              <span>{t("uploading", { name: u.name })}</span>
              <progress value={u.sent} max={u.total || 1} aria-label={t("uploading", { name: u.name })} />
            </>
          )}
        </div>
      ))}
      {candidates.length > 0 ? (
        <ul className="mention-picker" role="listbox" aria-label={t("mentionPicker")} id="mention-picker">
          {candidates.map((m, i) => (
            <li key={m} role="option" id={`mention-${m}`} aria-selected={i === active} onMouseDown={(e) => (e.preventDefault(), pick(m))}>
              {app.nameOf(m)} <span className="muted">@{m}</span>
            </li>
          ))}
        </ul>
      ) : null}
      <div className="composer-row">
        <button type="button" className="icon" onClick={() => fileInput.current?.click()} aria-label={t("attach")} title={t("attach")}>
          <PaperclipIcon />
        </button>
        <input ref={fileInput} type="file" hidden multiple onChange={(e) => ([...(e.target.files ?? [])].forEach((f) => void upload(f)), (e.target.value = ""))} />
        <button type="button" className="icon" onClick={() => setForm("log")} aria-label={t("workLog")} title={t("workLog")}>
          <LogIcon />
        </button>
        <button type="button" className="icon" onClick={() => setForm("approval")} aria-label={t("approvalRequest")} title={t("approvalRequest")}>
          <ApprovalIcon />
        </button>
        <textarea
          ref={input}
          rows={1}
          value={text}
          aria-label={t("messageLabel")}
          placeholder={dragging ? t("dropHere") : t("messagePlaceholder")}
          aria-autocomplete="list"
          aria-controls={candidates.length > 0 ? "mention-picker" : undefined}
          aria-activedescendant={candidates.length > 0 ? `mention-${candidates[Math.min(active, candidates.length - 1)]}` : undefined}
          onChange={(e) => {
            setText(e.target.value);
            setCaret(e.target.selectionStart);
            setPickerClosed(false);
            setActive(0);
            if (e.target.value) store.notifyTyping();
          }}
          onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
        />
        <button type="button" className="primary" onClick={send} disabled={!text.trim()}>
          {t("send")}
        </button>
      </div>
      {form === "log" ? <LogForm store={store} onClose={() => setForm(undefined)} /> : null}
      {form === "approval" ? <ApprovalForm app={app} store={store} onClose={() => setForm(undefined)} /> : null}
    </section>
  );
}
