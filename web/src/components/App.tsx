import { useEffect, useMemo, useState } from "react";
import { signOut, type SignIn } from "../auth";
import { lang, t } from "../i18n";
import { AppStore } from "../state/app-store";
import { useStore } from "../state/observable";
import { ConversationList } from "./ConversationList";
import { ConversationView } from "./ConversationView";
import { NewChatDialog } from "./people";
import { SearchView } from "./SearchView";

export function App(props: { signIn: SignIn }) {
  const [ended, setEnded] = useState<"signed_out" | "expired">();
  if (!props.signIn.ok) return <SignedOut reason={props.signIn.reason} />;
  if (ended) return <SignedOut reason={ended} />;
  return <Workspace signIn={props.signIn} onEnd={setEnded} />;
}

/** What a person sees without a valid sign-in, and what to do about it. */
function SignedOut(props: { reason: "signed_out" | "expired" }) {
  const expired = props.reason === "expired";
  useEffect(() => {
    document.title = `${expired ? t("expiredTitle") : t("signedOutTitle")} · ${t("appName")}`;
  }, [expired]);
  return (
    <main className="signed-out" lang={lang}>
      <div className="signed-out-card">
        <h1>{expired ? t("expiredTitle") : t("signedOutTitle")}</h1>
        <p>{expired ? t("expiredBody") : t("signedOutBody")}</p>
        {import.meta.env.DEV || location.hostname === "127.0.0.1" || location.hostname === "localhost" ? <p className="muted">{t("devHint")}</p> : null}
      </div>
    </main>
  );
}

function Workspace(props: { signIn: Extract<SignIn, { ok: true }>; onEnd: (reason: "signed_out" | "expired") => void }) {
  const app = useMemo(() => new AppStore(props.signIn.session), [props.signIn.session]);
  useStore(app);
  const [selected, setSelected] = useState<string>();
  const [jumpTo, setJumpTo] = useState<number>();
  const [query, setQuery] = useState("");
  const [searching, setSearching] = useState<{ q: string; at: number }>();
  const [newChat, setNewChat] = useState(false);

  useEffect(() => {
    app.start();
    // The token's own expiry ends the session even while nothing is being requested.
    const timer = setTimeout(() => app.report(Object.assign(new Error("expired"), { status: 401 })), Math.min(2 ** 31 - 1, props.signIn.session.expiresAt - Date.now()));
    return () => {
      clearTimeout(timer);
      app.stop();
    };
  }, [app]);
  useEffect(() => {
    if (app.authFailed) {
      signOut();
      props.onEnd("expired");
    }
  }, [app.authFailed]);
  useEffect(() => {
    const unread = app.conversations.reduce((n, c) => n + (c.muted ? 0 : c.unread), 0);
    document.title = `${unread > 0 ? `(${unread}) ` : ""}${t("appName")}`;
  });

  const open = (id: string, seq?: number) => {
    setSearching(undefined);
    setSelected(id);
    setJumpTo(seq);
    app.open(id);
  };
  const me = app.nameOf(app.session.userId);
  return (
    <div className="app" lang={lang}>
      <a className="skip-link" href="#messages">
        {t("skipToMessages")}
      </a>
      <header className="topbar">
        <span className="brand">{t("appName")}</span>
        <form
          role="search"
          className="search-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (query.trim()) setSearching({ q: query.trim(), at: Date.now() });
          }}
        >
          <input type="search" aria-label={t("search")} placeholder={t("searchPlaceholder")} value={query} onChange={(e) => setQuery(e.target.value)} maxLength={100} />
          <button type="submit">{t("search")}</button>
        </form>
        <span className="me">
          <span className={`dot ${app.channelState === "open" ? "online" : "offline"}`} role="img" aria-label={t(app.channelState === "open" ? "online" : "offline")} />
          {t("signedInAs", { name: me })}
        </span>
        <button
          type="button"
          onClick={() => {
            signOut();
            props.onEnd("signed_out");
          }}
        >
          {t("signOut")}
        </button>
      </header>
      <nav className="sidebar" aria-label={t("conversationList")}>
        <div className="sidebar-head">
          <h2>{t("conversations")}</h2>
          <button type="button" className="primary" onClick={() => setNewChat(true)}>
            + {t("newChat")}
          </button>
        </div>
        <ConversationList app={app} selected={selected} onSelect={(id) => open(id)} />
      </nav>
      <main className="main" id="main">
        {searching ? (
          <SearchView key={searching.at} app={app} q={searching.q} onOpen={open} />
        ) : selected ? (
          <ConversationView key={selected} app={app} id={selected} jumpTo={jumpTo} onJumped={() => setJumpTo(undefined)} onLeft={() => (setSelected(undefined), void app.refreshList())} />
        ) : (
          <p className="empty">{t("selectConversation")}</p>
        )}
      </main>
      <div className="notices" aria-live="assertive">
        {app.notices.map((n) => (
          <div className="notice" role="alert" key={n.id}>
            <span>
              {t("errorPrefix")}: {n.text}
            </span>
            <button type="button" className="icon" onClick={() => app.dismiss(n.id)} aria-label={t("dismiss")}>
              ✕
            </button>
          </div>
        ))}
      </div>
      {newChat ? <NewChatDialog app={app} onClose={() => setNewChat(false)} onCreated={(id) => (setNewChat(false), open(id))} /> : null}
    </div>
  );
}
