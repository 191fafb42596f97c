import { ConversationClient, SwitchboardError } from "../../../src/client/index.ts";
import type { Conversation, JsonObject, Message, SendBodies, SendableKind } from "../../../src/client/index.ts";
import type { AppStore } from "./app-store";
import { Observable } from "./observable";

/** A message as the app holds it: `asOf` is the conversation seq its state (reactions, edits) reflects. */
interface Entry {
  message: Message;
  asOf: number;
}

export interface Outgoing {
  clientId: string;
  kind: SendableKind;
  body: SendBodies[SendableKind];
  replyTo: number | undefined;
  state: "sending" | "failed";
  error: string | undefined;
}

/** Events that change another message rather than being shown themselves. */
const LIFECYCLE = new Set(["reaction_added", "reaction_removed", "message_edited", "message_recalled", "card_action"]);
const MEMBERSHIP = new Set(["members_added", "member_removed", "member_left", "role_changed", "owner_changed"]);
const PAGE = 50;
const TYPING_SHOWN_MS = 4_000;

/**
 * One open conversation: messages keyed by seq (history pages plus the live socket), the outbox of
 * sends not yet acknowledged, typing and read cursors. Components render it and never mutate it.
 */
export class ConversationStore extends Observable {
  readonly id: string;
  info: Conversation | undefined;
  /** Shown seqs, ascending. */
  seqs: number[] = [];
  outbox: Outgoing[] = [];
  state: "loading" | "connecting" | "open" | "closed" = "loading";
  everOpen = false;
  hasOlder = true;
  loadingOlder = false;
  /** Why the conversation cannot be shown (not a member any more, …). */
  fatal: string | undefined;
  readonly cursors = new Map<string, number>();
  readonly typing = new Map<string, number>();
  /** First CRM card seq → later cards about the same object. */
  readonly crmUpdates = new Map<number, number[]>();
  private readonly entries = new Map<number, Entry>();
  private client: ConversationClient | undefined;
  private readonly app: AppStore;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(app: AppStore, id: string) {
    super();
    this.app = app;
    this.id = id;
  }

  get me(): string {
    return this.app.session.userId;
  }

  get lastSeq(): number {
    return this.seqs[this.seqs.length - 1] ?? 0;
  }

  message(seq: number): Message | undefined {
    return this.entries.get(seq)?.message;
  }

  async open(): Promise<void> {
    try {
      const [info, page] = await Promise.all([this.app.api.conversation(this.id), this.app.api.history(this.id, { limit: PAGE })]);
      if (this.closed) return;
      this.info = info;
      info.members.forEach((m) => this.app.wantUser(m));
      const asOf = Math.max(info.lastSeq, ...page.messages.map((m) => m.seq));
      this.hasOlder = (page.messages[0]?.seq ?? 0) > 1;
      for (const m of page.messages) this.add(m, asOf);
      this.changed();
      void this.loadCursors();
      this.connect(page.messages.at(-1)?.seq ?? info.lastSeq);
    } catch (err) {
      this.fail(err);
    }
  }

  close(): void {
    this.closed = true;
    this.client?.close();
    clearTimeout(this.typingTimer);
  }

  private connect(after: number): void {
    const client = new ConversationClient({
      baseUrl: location.origin,
      token: this.app.session.token,
      conversationId: this.id,
      after,
      deviceId: this.app.deviceId,
      backoff: { initialMs: 250, maxMs: 3_000 },
      pingIntervalMs: 10_000,
    });
    this.client = client;
    let readyLastSeq = after;
    client.on("ready", ({ lastSeq }) => {
      readyLastSeq = lastSeq;
      this.everOpen = true;
    });
    client.on("state", (state) => {
      this.state = state;
      this.changed();
    });
    // Replayed messages carry their current state (as of `ready`); live ones their state when sent.
    client.on("message", (m) => {
      this.add(m, Math.max(m.seq, readyLastSeq));
      if (m.kind !== "system" || !LIFECYCLE.has(String(m.body.event))) {
        this.app.patchConversation(this.id, { lastSeq: m.seq, activityAt: m.ts, lastMessage: m });
      }
      if (m.kind === "system" && MEMBERSHIP.has(String(m.body.event))) void this.refreshInfo();
      this.changed();
    });
    client.on("read", ({ userId, seq }) => {
      if ((this.cursors.get(userId) ?? 0) < seq) this.cursors.set(userId, seq);
      this.changed();
    });
    client.on("typing", ({ userId }) => {
      this.typing.set(userId, Date.now() + TYPING_SHOWN_MS);
      this.scheduleTypingExpiry();
      this.changed();
    });
    client.on("hidden", ({ seq }) => {
      this.entries.delete(seq);
      this.seqs = this.seqs.filter((s) => s !== seq);
      this.changed();
    });
    client.on("error", (err) => {
      if (err.fatal) this.fail(err);
      else if (!(err.code === "forbidden" && err.clientId === undefined)) this.app.report(err);
    });
    void client.connect();
  }

  // ---- reading ----

  async loadOlder(limit = PAGE): Promise<void> {
    if (this.loadingOlder || !this.hasOlder) return;
    this.loadingOlder = true;
    this.changed();
    try {
      const oldest = this.oldestLoaded();
      const { messages } = await this.app.api.history(this.id, { before: oldest, limit });
      const asOf = this.client?.lastSeq ?? this.lastSeq;
      for (const m of messages) this.add(m, asOf);
      this.hasOlder = messages.length > 0 && (messages[0]?.seq ?? 0) > 1;
    } catch (err) {
      this.app.report(err);
    } finally {
      this.loadingOlder = false;
      this.changed();
    }
  }

  /** Load older pages until `seq` is shown. Resolves false when it cannot be (deleted, recalled away). */
  async reveal(seq: number): Promise<boolean> {
    while (!this.entries.has(seq) && this.hasOlder && this.oldestLoaded() > seq) await this.loadOlder(200);
    return this.entries.has(seq);
  }

  markRead(): void {
    const last = this.client?.lastSeq ?? 0;
    if (last > 0) this.client?.markRead(last);
  }

  notifyTyping(): void {
    this.client?.typing();
  }

  typingNames(): string[] {
    const now = Date.now();
    return [...this.typing].filter(([u, until]) => until > now && u !== this.me).map(([u]) => this.app.nameOf(u));
  }

  /** How many of the other current members have read `seq` (at least: cursors learnt since opening). */
  readCount(seq: number): { count: number; of: number } {
    const others = (this.info?.members ?? []).filter((m) => m !== this.me && m !== "bot");
    return { count: others.filter((m) => (this.cursors.get(m) ?? 0) >= seq).length, of: others.length };
  }

  // ---- writing ----

  /** Counts this person's sends, so the list can follow them to the bottom. */
  sends = 0;

  send<K extends SendableKind>(kind: K, body: SendBodies[K], replyTo?: number): void {
    this.sends++;
    const outgoing: Outgoing = { clientId: crypto.randomUUID(), kind, body, replyTo, state: "sending", error: undefined };
    this.outbox = [...this.outbox, outgoing];
    this.changed();
    this.transmit(outgoing);
  }

  retry(clientId: string): void {
    const item = this.outbox.find((o) => o.clientId === clientId);
    if (!item || item.state !== "failed") return;
    this.patchOutgoing(clientId, { state: "sending", error: undefined });
    this.transmit(item);
  }

  discard(clientId: string): void {
    this.outbox = this.outbox.filter((o) => o.clientId !== clientId);
    this.changed();
  }

  /** Run a lifecycle request; a refusal is shown in the server's words. */
  async act(action: () => Promise<unknown>): Promise<boolean> {
    try {
      await action();
      return true;
    } catch (err) {
      this.app.report(err);
      return false;
    }
  }

  react(seq: number, emoji: string): Promise<boolean> {
    const mine = this.message(seq)?.reactions?.[emoji]?.includes(this.me) ?? false;
    return this.act(() => this.app.api.react(this.id, seq, emoji, mine));
  }

  async refreshInfo(): Promise<void> {
    try {
      this.info = await this.app.api.conversation(this.id);
      this.info.members.forEach((m) => this.app.wantUser(m));
      this.changed();
    } catch (err) {
      if (err instanceof SwitchboardError && err.code === "not_found") this.fail(err);
      else this.app.report(err);
    }
  }

  // ---- internals ----

  private transmit(item: Outgoing): void {
    const client = this.client;
    if (!client) return;
    const options = { clientId: item.clientId, ...(item.replyTo !== undefined ? { replyTo: item.replyTo } : {}) };
    client.send(item.kind, item.body as SendBodies[typeof item.kind], options).then(
      () => this.discard(item.clientId),
      (err: unknown) => {
        if (this.closed) return;
        const reason = err instanceof Error ? err.message : String(err);
        this.patchOutgoing(item.clientId, { state: "failed", error: reason });
      },
    );
  }

  private patchOutgoing(clientId: string, patch: Partial<Outgoing>): void {
    this.outbox = this.outbox.map((o) => (o.clientId === clientId ? { ...o, ...patch } : o));
    this.changed();
  }

  private add(m: Message, asOf: number): void {
    if (this.entries.has(m.seq)) return;
    if (m.sender === this.me) this.outbox = this.outbox.filter((o) => o.clientId !== m.clientId);
    if (m.kind === "system" && LIFECYCLE.has(String(m.body.event))) return this.applyEvent(m);
    if (m.kind === "approval" && typeof m.body.request === "number") this.applyDecision(m);
    if (m.kind === "crm" && typeof m.body.updates === "number") {
      const list = this.crmUpdates.get(m.body.updates) ?? [];
      if (!list.includes(m.seq)) this.crmUpdates.set(m.body.updates, [...list, m.seq].sort((a, b) => a - b));
    }
    this.entries.set(m.seq, { message: m, asOf });
    this.insertSeq(m.seq);
  }

  private applyEvent(event: Message): void {
    const b = event.body;
    const target = typeof b.target === "number" ? this.entries.get(b.target) : undefined;
    if (!target || event.seq <= target.asOf) return; // not loaded, or already reflected in its state
    const m = target.message;
    let next: Message = m;
    if (b.event === "reaction_added" || b.event === "reaction_removed") {
      const emoji = String(b.emoji);
      const actor = String(b.actor);
      const reactions = { ...(m.reactions ?? {}) };
      const users = new Set(reactions[emoji] ?? []);
      if (b.event === "reaction_added") users.add(actor);
      else users.delete(actor);
      if (users.size > 0) reactions[emoji] = [...users];
      else delete reactions[emoji];
      next = { ...m, reactions };
    } else if (b.event === "message_edited") {
      next = { ...m, body: (b.body ?? m.body) as JsonObject, ...(typeof b.editedAt === "number" ? { editedAt: b.editedAt } : {}) };
    } else if (b.event === "message_recalled") {
      next = { ...m, body: {}, recalled: true };
    }
    this.entries.set(m.seq, { message: next, asOf: event.seq });
  }

  private applyDecision(decision: Message): void {
    const target = this.entries.get(decision.body.request as number);
    if (!target || decision.seq <= target.asOf) return;
    const body = target.message.body;
    const decisions = ((body.decisions ?? []) as JsonObject[]).filter((d) => d.by !== decision.sender);
    decisions.push({ by: decision.sender, decision: String(decision.body.decision), at: decision.ts });
    this.entries.set(target.message.seq, { message: { ...target.message, body: { ...body, decisions, state: String(decision.body.state) } }, asOf: decision.seq });
  }

  private insertSeq(seq: number): void {
    const last = this.seqs[this.seqs.length - 1];
    if (last === undefined || seq > last) {
      this.seqs = [...this.seqs, seq];
      return;
    }
    let lo = 0;
    let hi = this.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.seqs[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    this.seqs = [...this.seqs.slice(0, lo), seq, ...this.seqs.slice(lo)];
  }

  private oldestLoaded(): number {
    let oldest = Infinity;
    for (const seq of this.entries.keys()) oldest = Math.min(oldest, seq);
    return oldest === Infinity ? (this.client?.lastSeq ?? 0) + 1 : oldest;
  }

  /** Cursors of the others, from the receipts of my latest message (cursors only move forward). */
  private async loadCursors(): Promise<void> {
    const mine = [...this.seqs].reverse().find((s) => this.entries.get(s)?.message.sender === this.me);
    if (mine === undefined) return;
    try {
      const receipts = await this.app.api.receipts(this.id, mine);
      for (const u of receipts.readBy) if ((this.cursors.get(u) ?? 0) < mine) this.cursors.set(u, mine);
      this.changed();
    } catch {
      // receipts are a nicety; the live read frames still arrive
    }
  }

  private scheduleTypingExpiry(): void {
    clearTimeout(this.typingTimer);
    const next = Math.min(...this.typing.values());
    this.typingTimer = setTimeout(() => {
      const now = Date.now();
      for (const [u, until] of this.typing) if (until <= now) this.typing.delete(u);
      if (this.typing.size > 0) this.scheduleTypingExpiry();
      this.changed();
    }, Math.max(50, next - Date.now()));
  }

  private fail(err: unknown): void {
    if (err instanceof SwitchboardError && err.code === "unauthorized") return this.app.report(err);
    this.fatal = err instanceof Error ? err.message : String(err);
    this.state = "closed";
    this.changed();
  }
}
