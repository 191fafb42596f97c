import { useEffect, useId, useRef, type ReactNode } from "react";
import { t } from "../i18n";

/** A modal dialog on the native <dialog>: focus moves in, Escape closes, focus returns on close. */
export function Dialog(props: { title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement as HTMLElement | null;
    dialog?.showModal();
    return () => opener?.focus?.();
  }, []);
  return (
    <dialog
      ref={ref}
      className={props.wide ? "dialog wide" : "dialog"}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <div className="dialog-head">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" className="icon" onClick={props.onClose} aria-label={t("close")}>
          ✕
        </button>
      </div>
      {props.children}
    </dialog>
  );
}

/** An error line under a form: the server's message in words. */
export function FormError(props: { error: string | undefined }) {
  if (!props.error) return null;
  return (
    <p className="form-error" role="alert">
      {props.error}
    </p>
  );
}

/** The foot of a dialog's form: the error in words, then Cancel and the submit button. */
export function FormActions(props: { error: string | undefined; submitLabel: string; onCancel: () => void }) {
  return (
    <>
      <FormError error={props.error} />
      <div className="dialog-actions">
        <button type="button" onClick={props.onCancel}>
          {t("cancel")}
        </button>
        <button type="submit" className="primary">
          {props.submitLabel}
        </button>
      </div>
    </>
  );
}
