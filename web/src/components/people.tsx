import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import type { Role } from "../../../src/client/index.ts";
import { t, type MessageKey } from "../i18n";
import type { AppStore } from "../state/app-store";
import type { ConversationStore } from "../state/conversation-store";
import { errorText } from "../format";
import { Dialog, FormActions, FormError } from "./Dialog";

const ids = (s: string) => s.split(/[\s,，]+/).map((x) => x.trim()).filter(Boolean);

/** People to tick under a legend, by name (and id with `showIds`); a new tick goes to the end of `picked`. */
export function PeopleChecklist(props: {
  legend: string;
  app: AppStore;
  people: string[];
  picked: string[];
  setPicked: (update: (picked: string[]) => string[]) => void;
  showIds?: boolean;
  children?: ReactNode;
}) {
  return (
    <fieldset className="field">
      <legend>{props.legend}</legend>
      {props.people.map((u) => (
        <label key={u} className="check">
          <input type="checkbox" checked={props.picked.includes(u)} onChange={(e) => props.setPicked((list) => (e.target.checked ? [...list, u] : list.filter((x) => x !== u)))} />
          {props.app.nameOf(u)}
          {props.showIds ? (
            <>
              {" "}
              <span className="muted">@{u}</span>
            </>
          ) : null}
        </label>
      ))}
      {props.children}
    </fieldset>
  );
}

/** Start a direct chat with one person, or a group with several. */
export function NewChatDialog(props: { app: AppStore; onClose: () => void; onCreated: (id: string) => void }) {
  const { app } = props;
  const known = app.knownPeople();
  const [type, setType] = useState<"direct" | "group">("direct");
  const [person, setPerson] = useState(known[0] ?? "");
  const [name, setName] = useState("");
  const [picked, setPicked] = useState<string[]>([]);
  const [others, setOthers] = useState("");
  const [error, setError] = useState<string>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const created = type === "direct" ? await app.api.createDirect(person.trim()) : await app.api.createGroup(name.trim(), [...new Set([...picked, ...ids(others)])]);
      await app.refreshList();
      props.onCreated(created.id);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <Dialog title={t("newChat")} onClose={props.onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <fieldset className="field segmented">
          <legend className="visually-hidden">{t("newChat")}</legend>
          <label>
            <input type="radio" name="type" checked={type === "direct"} onChange={() => setType("direct")} /> {t("direct")}
          </label>
          <label>
            <input type="radio" name="type" checked={type === "group"} onChange={() => setType("group")} /> {t("group")}
          </label>
        </fieldset>
        {type === "direct" ? (
          <label className="field">
            <span>{t("withUser")}</span>
            <input list="known-people" value={person} onChange={(e) => setPerson(e.target.value)} required />
            <datalist id="known-people">
              {known.map((u) => (
                <option key={u} value={u}>
                  {app.nameOf(u)}
                </option>
              ))}
            </datalist>
          </label>
        ) : (
          <>
            <label className="field">
              <span>{t("groupName")}</span>
              <input value={name} onChange={(e) => setName(e.target.value)} maxLength={120} required />
            </label>
            <PeopleChecklist legend={t("pickPeople")} app={app} people={known} picked={picked} setPicked={setPicked} showIds>
              <label className="field">
                <span className="muted">{t("userIdsHint")}</span>
                <input value={others} onChange={(e) => setOthers(e.target.value)} />
              </label>
            </PeopleChecklist>
          </>
        )}
        <FormActions error={error} submitLabel={t("create")} onCancel={props.onClose} />
      </form>
    </Dialog>
  );
}

const ROLE_LABEL: Record<Role, MessageKey> = { owner: "roleOwner", admin: "roleAdmin", member: "roleMember" };

/** Members with their roles and presence; add, remove, change roles, leave (as the caller's role allows). */
export function MembersDialog(props: { app: AppStore; store: ConversationStore; onClose: () => void; onLeft: () => void }) {
  const { app, store } = props;
  const info = store.info;
  const me = app.session.userId;
  const [adding, setAdding] = useState("");
  const [error, setError] = useState<string>();
  useEffect(() => void app.loadPresence(info?.members ?? []), [info?.members.join(",")]);
  if (!info) return null;
  const roles = info.roles ?? {};
  const myRole = roles[me] ?? "member";
  const isGroup = info.type === "group";
  const run = async (action: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await action();
      await store.refreshInfo();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <Dialog title={t("members")} onClose={props.onClose}>
      <ul className="people members">
        {info.members.map((m) => {
          const role = roles[m] ?? "member";
          const canRemove = isGroup && m !== me && (myRole === "owner" || (myRole === "admin" && role === "member"));
          return (
            <li key={m}>
              {m === "bot" ? <span className="dot none" aria-hidden="true" /> : <span className={`dot ${app.statusOf(m)}`} aria-label={t(app.statusOf(m))} role="img" />}
              <span className="grow">
                {app.nameOf(m)} <span className="muted">@{m}{m === me ? ` (${t("you")})` : ""}</span>
              </span>
              {isGroup && myRole === "owner" && m !== me ? (
                <label>
                  <span className="visually-hidden">
                    {t("role")} {app.nameOf(m)}
                  </span>
                  <select value={role} onChange={(e) => void run(() => app.api.setRole(info.id, m, e.target.value as Role))}>
                    {(["member", "admin", "owner"] as const).map((r) => (
                      <option key={r} value={r}>
                        {t(ROLE_LABEL[r])}
                      </option>
                    ))}
                  </select>
                </label>
              ) : isGroup ? (
                <span className="badge">{t(ROLE_LABEL[role])}</span>
              ) : null}
              {canRemove ? (
                <button type="button" className="danger" onClick={() => void run(() => app.api.removeMember(info.id, m))}>
                  {t("remove")} <span className="visually-hidden">{app.nameOf(m)}</span>
                </button>
              ) : null}
            </li>
          );
        })}
      </ul>
      {isGroup && (myRole === "owner" || myRole === "admin") ? (
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => app.api.addMembers(info.id, ids(adding))).then(() => setAdding(""));
          }}
        >
          <label className="field grow">
            <span>{t("addMembers")}</span>
            <input value={adding} onChange={(e) => setAdding(e.target.value)} placeholder={t("userIdsHint")} />
          </label>
          <button type="submit">{t("add")}</button>
        </form>
      ) : null}
      <FormError error={error} />
      {isGroup ? (
        <div className="dialog-actions">
          <button
            type="button"
            className="danger"
            onClick={async () => {
              setError(undefined);
              try {
                await app.api.removeMember(info.id, me);
                props.onLeft();
              } catch (err) {
                setError(errorText(err));
              }
            }}
          >
            {t("leave")}
          </button>
        </div>
      ) : null}
    </Dialog>
  );
}
