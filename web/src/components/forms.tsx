import { useState, type FormEvent } from "react";
import { t } from "../i18n";
import type { AppStore } from "../state/app-store";
import type { ConversationStore } from "../state/conversation-store";
import { errorText } from "../format";
import { Dialog, FormActions } from "./Dialog";
import { PeopleChecklist } from "./people";

const lines = (s: string) => s.split("\n").map((l) => l.trim()).filter(Boolean);
const today = () => new Date(Date.now() - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 10);

export interface LogFields {
  date: string;
  done: string[];
  planned: string[];
  blockers: string[];
  text?: string;
}

/**
 * A work log: the day, what was done, what is planned, what blocks. New logs are sent; with
 * `initial` and `onSave` it edits one (a refusal, e.g. past the edit window, is shown in words).
 */
export function LogForm(props: { store: ConversationStore; onClose: () => void; initial?: LogFields; onSave?: (body: LogFields) => Promise<void> }) {
  const init = props.initial;
  const [date, setDate] = useState(init?.date ?? today());
  const [done, setDone] = useState(init?.done.join("\n") ?? "");
  const [planned, setPlanned] = useState(init?.planned.join("\n") ?? "");
  const [blockers, setBlockers] = useState(init?.blockers.join("\n") ?? "");
  const [text, setText] = useState(init?.text ?? "");
  const [error, setError] = useState<string>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!date) return setError(t("required", { field: t("logDate") }));
    if (!lines(done).length && !lines(planned).length && !text.trim()) return setError(t("required", { field: t("logDone") }));
    const body: LogFields = { date, done: lines(done), planned: lines(planned), blockers: lines(blockers), ...(text.trim() ? { text: text.trim() } : {}) };
    if (props.onSave) {
      try {
        await props.onSave(body);
      } catch (err) {
        return setError(errorText(err));
      }
    } else {
      props.store.send("log", body);
    }
    props.onClose();
  };
  return (
    <Dialog title={props.initial ? t("editMessage") : t("workLog")} onClose={props.onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <label className="field">
          <span>{t("logDate")}</span>
          <input type="date" value={date} onChange={(e) => setDate(e.target.value)} required />
        </label>
        {(
          [
            ["logDone", done, setDone],
            ["logPlanned", planned, setPlanned],
            ["logBlockers", blockers, setBlockers],
          ] as const
        ).map(([key, value, set]) => (
          <label className="field" key={key}>
            <span>
              {t(key)} <span className="muted">({t("onePerLine")})</span>
            </span>
            <textarea rows={3} value={value} onChange={(e) => set(e.target.value)} />
          </label>
        ))}
        <label className="field">
          <span>{t("logNotes")}</span>
          <textarea rows={2} value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        <FormActions error={error} submitLabel={props.initial ? t("save") : t("send")} onCancel={props.onClose} />
      </form>
    </Dialog>
  );
}

/** An approval request: title, details, amount, and approvers chosen from the members. */
export function ApprovalForm(props: { app: AppStore; store: ConversationStore; onClose: () => void }) {
  const members = (props.store.info?.members ?? []).filter((m) => m !== "bot");
  const [title, setTitle] = useState("");
  const [details, setDetails] = useState("");
  const [amount, setAmount] = useState("");
  const [currency, setCurrency] = useState("USD");
  const [approvers, setApprovers] = useState<string[]>([]);
  const [error, setError] = useState<string>();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!title.trim()) return setError(t("required", { field: t("approvalTitle") }));
    if (approvers.length === 0) return setError(t("required", { field: t("approvers") }));
    const value = amount.trim() ? Number(amount) : undefined;
    if (value !== undefined && !Number.isFinite(value)) return setError(`${t("approvalAmount")}: ${amount}`);
    props.store.send("approval", {
      title: title.trim(),
      approvers,
      ...(details.trim() ? { details: details.trim() } : {}),
      ...(value !== undefined ? { amount: value, currency: currency.trim().toUpperCase() } : {}),
    });
    props.onClose();
  };
  return (
    <Dialog title={t("approvalRequest")} onClose={props.onClose}>
      <form onSubmit={submit}>
        <label className="field">
          <span>{t("approvalTitle")}</span>
          <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={200} required />
        </label>
        <label className="field">
          <span>{t("approvalDetails")}</span>
          <textarea rows={3} value={details} onChange={(e) => setDetails(e.target.value)} />
        </label>
        <div className="field-row">
          <label className="field">
            <span>{t("approvalAmount")}</span>
            <input inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} />
          </label>
          <label className="field narrow">
            <span>{t("approvalCurrency")}</span>
            <input value={currency} onChange={(e) => setCurrency(e.target.value)} maxLength={3} pattern="[A-Za-z]{3}" />
          </label>
        </div>
        <PeopleChecklist legend={t("approvers")} app={props.app} people={members} picked={approvers} setPicked={setApprovers} />
        <FormActions error={error} submitLabel={t("send")} onCancel={props.onClose} />
      </form>
    </Dialog>
  );
}
