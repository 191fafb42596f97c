import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { dayKey, formatDay } from "../format";
import { t } from "../i18n";
import type { AppStore } from "../state/app-store";
import type { ConversationStore, Outgoing } from "../state/conversation-store";
import type { Message } from "../../../src/client/index.ts";
import { MessageItem } from "./MessageItem";

const GROUP_MS = 5 * 60_000;

/** Messages shown as a centred line in words (membership events, approval decisions), not under a name. */
const isLine = (m: Message) => m.kind === "system" || (m.kind === "approval" && typeof m.body.request === "number");

type Row =
  | { type: "start"; key: string }
  | { type: "older"; key: string }
  | { type: "day"; key: string; ts: number }
  | { type: "message"; key: string; seq: number; compact: boolean }
  | { type: "outgoing"; key: string; item: Outgoing };

function buildRows(store: ConversationStore): Row[] {
  const rows: Row[] = [store.hasOlder ? { type: "older", key: "older" } : { type: "start", key: "start" }];
  let day = "";
  let previous: Message | undefined;
  for (const seq of store.seqs) {
    const m = store.message(seq);
    if (!m) continue;
    const key = dayKey(m.ts);
    if (key !== day) {
      day = key;
      previous = undefined;
      rows.push({ type: "day", key: `day-${key}`, ts: m.ts });
    }
    // A run of plain messages by one person within a few minutes is shown under one name.
    const compact = previous !== undefined && previous.sender === m.sender && !isLine(previous) && !isLine(m) && m.ts - previous.ts < GROUP_MS && !m.editedAt && m.replyTo === undefined;
    rows.push({ type: "message", key: `m-${seq}`, seq, compact });
    previous = m;
  }
  for (const item of store.outbox) rows.push({ type: "outgoing", key: `o-${item.clientId}`, item });
  return rows;
}

/**
 * The messages of one conversation, virtualised (only the rows in view are in the DOM, so 10,000
 * messages scroll as smoothly as 10). Sticks to the bottom while the reader is there; scrolling to
 * the top loads older pages and keeps the reader's place.
 */
export function MessageList(props: { app: AppStore; store: ConversationStore; version: number; jumpTo: number | undefined; onJumped: () => void; onReply: (seq: number) => void }) {
  const { app, store, version } = props;
  const rows = useMemo(() => buildRows(store), [store, version]);
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const anchor = useRef<{ key: string; index: number; delta: number } | undefined>(undefined);
  const [highlight, setHighlight] = useState<number>();
  const [awayFromBottom, setAwayFromBottom] = useState(false);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: (i) => (rows[i]?.type === "message" ? 64 : 36),
    getItemKey: (i) => rows[i]?.key ?? i,
    overscan: 10,
  });

  // Sending something takes the reader to the bottom, where it appears.
  const sends = useRef(store.sends);
  if (sends.current !== store.sends) {
    sends.current = store.sends;
    atBottom.current = true;
    if (awayFromBottom) setAwayFromBottom(false);
  }

  // Keep the view where the reader is: at the bottom for new messages, on the same row when older ones arrive above.
  useLayoutEffect(() => {
    const held = anchor.current;
    if (held) {
      const index = rows.findIndex((r) => r.key === held.key);
      // Rows also change while the page is loading; the anchor is used once older rows are in.
      if (index === held.index && store.loadingOlder) return;
      anchor.current = undefined;
      if (index >= 0) {
        const start = virtualizer.getOffsetForIndex(index, "start")?.[0];
        if (start !== undefined) virtualizer.scrollToOffset(start - held.delta);
        return;
      }
    }
    if (atBottom.current && rows.length > 0 && props.jumpTo === undefined) virtualizer.scrollToIndex(rows.length - 1, { align: "end" });
  }, [rows]);

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
    setAwayFromBottom(!atBottom.current);
    if (el.scrollTop < 300 && store.hasOlder && !store.loadingOlder) {
      // Anchor on a message row: separators and the list's edge move when older pages arrive.
      const first = virtualizer.getVirtualItems().find((v) => v.start + v.size > el.scrollTop && String(v.key).startsWith("m-"));
      if (first) anchor.current = { key: String(first.key), index: first.index, delta: first.start - el.scrollTop };
      void store.loadOlder();
    }
    if (atBottom.current) store.markRead();
  }, [store, virtualizer]);

  // Jump to a message (from search): load back to it, scroll it into the middle, highlight and focus it.
  useEffect(() => {
    const seq = props.jumpTo;
    if (seq === undefined || store.state === "loading") return;
    let live = true;
    void store.reveal(seq).then((found) => {
      if (!live) return;
      props.onJumped();
      if (!found) return;
      atBottom.current = false;
      const index = buildRows(store).findIndex((r) => r.key === `m-${seq}`);
      if (index < 0) return;
      setHighlight(seq);
      virtualizer.scrollToIndex(index, { align: "center" });
      requestAnimationFrame(() => requestAnimationFrame(() => scroller.current?.querySelector<HTMLElement>(`[data-seq="${seq}"]`)?.focus()));
    });
    return () => {
      live = false;
    };
  }, [props.jumpTo, store.state === "loading"]);

  useEffect(() => {
    if (atBottom.current && document.visibilityState === "visible") store.markRead();
  }, [rows]);
  // Messages that arrived while the tab was hidden are read when the person comes back to it.
  useEffect(() => {
    const onVisible = () => atBottom.current && document.visibilityState === "visible" && store.markRead();
    document.addEventListener("visibilitychange", onVisible);
    return () => document.removeEventListener("visibilitychange", onVisible);
  }, [store]);

  const items = virtualizer.getVirtualItems();
  const toLatest = () => {
    atBottom.current = true;
    setAwayFromBottom(false);
    virtualizer.scrollToIndex(rows.length - 1, { align: "end" });
  };
  return (
    <div className="list-wrap">
      {awayFromBottom ? (
        <button type="button" className="to-latest" onClick={toLatest}>
          {t("latest")} ↓
        </button>
      ) : null}
      <div ref={scroller} className="scroller" onScroll={onScroll} id="messages" tabIndex={0} role="log" aria-label={t("messageList")} aria-busy={store.loadingOlder}>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative", width: "100%" }}>
          <div style={{ position: "absolute", top: 0, left: 0, width: "100%", transform: `translateY(${items[0]?.start ?? 0}px)` }}>
            {items.map((v) => {
              const row = rows[v.index];
              if (!row) return null;
              return (
                <div key={v.key} data-index={v.index} ref={virtualizer.measureElement}>
                  {row.type === "start" ? <p className="list-edge">{t("beginning")}</p> : null}
                  {row.type === "older" ? <p className="list-edge">{store.loadingOlder ? t("loadingOlder") : ""}</p> : null}
                  {row.type === "day" ? (
                    <div className="day" role="separator">
                      <span>{formatDay(row.ts)}</span>
                    </div>
                  ) : null}
                  {row.type === "message" ? (
                    <MessageItem message={store.message(row.seq)!} compact={row.compact} app={app} store={store} version={version} highlighted={highlight === row.seq} onReply={props.onReply} />
                  ) : null}
                  {row.type === "outgoing" ? <OutgoingItem item={row.item} app={app} store={store} /> : null}
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </div>
  );
}

function OutgoingItem({ item, app, store }: { item: Outgoing; app: AppStore; store: ConversationStore }) {
  const body = item.body as { text?: string; title?: string; attachment?: { name?: string } };
  const text = body.text ?? body.title ?? body.attachment?.name ?? `[${item.kind}]`;
  return (
    <article className={`row message mine outgoing ${item.state}`} data-client-id={item.clientId}>
      <div className="avatar" aria-hidden="true">
        {app.nameOf(app.session.userId).slice(0, 1).toUpperCase()}
      </div>
      <div className="bubble">
        <div className="meta">
          <span className="sender">{app.nameOf(app.session.userId)}</span>
          <span className="marker" role="status">
            {item.state === "sending" ? t("sending") : t("notSent", { reason: item.error ?? "" })}
          </span>
        </div>
        <p className="text">{text}</p>
        {item.state === "failed" ? (
          <div className="card-actions">
            <button type="button" onClick={() => store.retry(item.clientId)}>
              {t("retry")}
            </button>
            <button type="button" onClick={() => store.discard(item.clientId)}>
              {t("discard")}
            </button>
          </div>
        ) : null}
      </div>
    </article>
  );
}
