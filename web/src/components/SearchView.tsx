import { useEffect, useState } from "react";
import type { Conversation, SearchHit } from "../../../src/client/index.ts";
import { errorText, formatListTime, snippetHtml } from "../format";
import { t } from "../i18n";
import type { AppStore } from "../state/app-store";

/** Results for a query: conversations by name or member, and messages with highlighted snippets. */
export function SearchView(props: { app: AppStore; q: string; onOpen: (conversationId: string, seq?: number) => void }) {
  const { app, q } = props;
  const [hits, setHits] = useState<SearchHit[]>();
  const [cursor, setCursor] = useState<string | null>(null);
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    setHits(undefined);
    setError(undefined);
    Promise.all([app.api.searchMessages(q), app.api.searchConversations(q)]).then(
      ([messages, convs]) => {
        if (!live) return;
        setHits(messages.hits);
        setCursor(messages.nextCursor);
        setConversations(convs.conversations);
      },
      (err: Error) => live && setError(err.message),
    );
    return () => {
      live = false;
    };
  }, [q]);
  const more = async () => {
    if (!cursor) return;
    try {
      const page = await app.api.searchMessages(q, { cursor });
      setHits((h) => [...(h ?? []), ...page.hits]);
      setCursor(page.nextCursor);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const nameOf = (id: string) => {
    const c = app.conversations.find((x) => x.id === id);
    return c ? app.titleOf(c) : id;
  };
  return (
    <section className="search-view" aria-labelledby="search-title">
      <h1 id="search-title">
        {t("search")}: “{q}”
      </h1>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {conversations.length > 0 ? (
        <>
          <h2>{t("searchConversations")}</h2>
          <ul className="results">
            {conversations.map((c) => (
              <li key={c.id}>
                <button type="button" className="result" onClick={() => props.onOpen(c.id)}>
                  <strong>{app.titleOf(c)}</strong> <span className="muted">{t("membersCount", { n: c.members.length })}</span>
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <h2>{t("searchMessages")}</h2>
      {hits === undefined && !error ? <p>{t("loading")}</p> : null}
      {hits?.length === 0 ? <p>{t("noResults")}</p> : null}
      <ul className="results" aria-live="polite">
        {hits?.map((h) => (
          <li key={`${h.message.conversationId}-${h.message.seq}`}>
            <button type="button" className="result" onClick={() => props.onOpen(h.message.conversationId, h.message.seq)} aria-label={`${t("jumpTo")}: ${nameOf(h.message.conversationId)}, ${app.nameOf(h.message.sender)}`}>
              <span className="result-meta">
                <strong>{nameOf(h.message.conversationId)}</strong> · {app.nameOf(h.message.sender)} · {formatListTime(h.message.ts)}
              </span>
              <span className="snippet" dangerouslySetInnerHTML={{ __html: snippetHtml(h.snippet) }} />
            </button>
          </li>
        ))}
      </ul>
      {cursor ? (
        <button type="button" onClick={() => void more()}>
          {t("moreResults")}
        </button>
      ) : null}
    </section>
  );
}
