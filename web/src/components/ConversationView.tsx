import { useEffect, useState } from "react";
import { t } from "../i18n";
import type { AppStore } from "../state/app-store";
import { ConversationStore } from "../state/conversation-store";
import { useStore } from "../state/observable";
import { Composer } from "./Composer";
import { MessageList } from "./MessageList";
import { MembersDialog } from "./people";

/** One open conversation: header, messages, who is typing, and the composer. */
export function ConversationView(props: { app: AppStore; id: string; jumpTo: number | undefined; onJumped: () => void; onLeft: () => void }) {
  const { app, id } = props;
  const [store, setStore] = useState<ConversationStore>();
  useEffect(() => {
    const s = new ConversationStore(app, id);
    setStore(s);
    void s.open();
    return () => s.close();
  }, [app, id]);
  if (!store || store.id !== id) return <p className="empty">{t("loading")}</p>;
  return <OpenConversation {...props} store={store} />;
}

function OpenConversation(props: { app: AppStore; store: ConversationStore; jumpTo: number | undefined; onJumped: () => void; onLeft: () => void }) {
  const { app, store } = props;
  const version = useStore(store);
  useStore(app);
  const [replyTo, setReplyTo] = useState<number>();
  const [showMembers, setShowMembers] = useState(false);
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    return () => {
      window.removeEventListener("online", update);
      window.removeEventListener("offline", update);
    };
  }, []);
  const entry = app.conversations.find((c) => c.id === store.id);
  const info = store.info;
  if (store.fatal) {
    return (
      <div className="empty" role="alert">
        {store.fatal}
      </div>
    );
  }
  if (!info) return <p className="empty">{t("loading")}</p>;
  const title = app.titleOf(info);
  const partner = info.type === "direct" ? app.partnerOf(info) : undefined;
  const muted = entry?.muted ?? info.muted;
  const typing = store.typingNames();
  return (
    <section className="conversation" aria-labelledby="conversation-title" data-state={store.state}>
      <header className="conversation-head">
        <div className="grow">
          <h1 id="conversation-title">
            {partner ? <span className={`dot ${app.presence.get(partner) ?? "offline"}`} role="img" aria-label={t(app.presence.get(partner) === "online" ? "online" : "offline")} /> : null}
            {title}
          </h1>
          <p className="muted">{info.type === "group" ? t("membersCount", { n: info.members.length }) : `@${partner ?? ""}`}</p>
        </div>
        <button
          type="button"
          aria-pressed={muted}
          onClick={() =>
            void store.act(async () => {
              const r = await app.api.setMuted(info.id, !muted);
              app.patchConversation(info.id, { muted: r.muted });
            })
          }
        >
          {muted ? t("unmute") : t("mute")}
        </button>
        <button type="button" onClick={() => setShowMembers(true)}>
          {t("members")}
        </button>
      </header>
      {!online ? (
        <p className="banner offline" role="status">
          {t("offlineBanner")}
        </p>
      ) : store.everOpen && store.state === "connecting" ? (
        <p className="banner" role="status">
          {t("reconnecting")}
        </p>
      ) : null}
      <MessageList app={app} store={store} version={version} jumpTo={props.jumpTo} onJumped={props.onJumped} onReply={setReplyTo} />
      <p className="typing" aria-live="polite">
        {typing.length === 1 ? t("typingOne", { name: typing[0]! }) : typing.length > 1 ? t("typingMany", { names: typing.join(", ") }) : ""}
      </p>
      <Composer app={app} store={store} replyTo={replyTo} onReplyDone={() => setReplyTo(undefined)} />
      {showMembers ? <MembersDialog app={app} store={store} onClose={() => setShowMembers(false)} onLeft={() => (setShowMembers(false), props.onLeft())} /> : null}
    </section>
  );
}
