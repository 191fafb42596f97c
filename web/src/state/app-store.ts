import { DeviceChannel, SwitchboardApi, SwitchboardError } from "../../../src/client/index.ts";
import type { Conversation, DeviceChannelEvents, UserProfile } from "../../../src/client/index.ts";
import { deviceId, type Session } from "../auth";
import { t } from "../i18n";
import { Observable } from "./observable";

export interface Notice {
  id: number;
  text: string;
}

/**
 * Everything about the signed-in person that outlives one open conversation: the conversation list
 * (kept live by the device channel), names of people, presence, and errors to show.
 */
export class AppStore extends Observable {
  readonly api: SwitchboardApi;
  readonly session: Session;
  readonly deviceId = deviceId();
  private channel: DeviceChannel | undefined;
  conversations: Conversation[] = [];
  listLoaded = false;
  openId: string | undefined;
  channelState: DeviceChannel["state"] = "closed";
  authFailed = false;
  notices: Notice[] = [];
  readonly presence = new Map<string, "online" | "offline">();
  private readonly users = new Map<string, UserProfile | null>();
  private readonly userRequests = new Set<string>();
  private noticeId = 0;

  constructor(session: Session) {
    super();
    this.session = session;
    this.api = new SwitchboardApi({ baseUrl: location.origin, token: session.token });
  }

  /** Open the device channel (a new one each time: a closed channel stays closed). */
  start(): void {
    this.channel?.close();
    const channel = new DeviceChannel({ baseUrl: location.origin, token: this.session.token, deviceId: this.deviceId, backoff: { initialMs: 250, maxMs: 3_000 } });
    this.channel = channel;
    channel.on("state", (state) => {
      this.channelState = state;
      this.changed();
    });
    // Every (re)connection may have missed notifications: the list is re-read from the server.
    channel.on("ready", () => void this.refreshList());
    channel.on("notify", (n) => this.onChannelNotify(n));
    channel.on("presence", ({ userId, status }) => {
      this.presence.set(userId, status);
      this.changed();
    });
    channel.on("error", (err) => this.report(err));
    channel.connect();
    void this.refreshList();
  }

  stop(): void {
    this.channel?.close();
    this.channel = undefined;
  }

  private onChannelNotify(n: DeviceChannelEvents["notify"]): void {
    const entry = this.conversations.find((c) => c.id === n.conversationId);
    if (!entry) return void this.refreshList();
    if (n.seq <= entry.lastSeq) return; // already counted (the list was re-read since)
    const updated: Conversation = {
      ...entry,
      lastSeq: Math.max(entry.lastSeq, n.seq),
      unread: n.conversationId === this.openId || n.kind === "system" ? entry.unread : entry.unread + 1,
      activityAt: Date.now(),
      lastMessage: n.kind === "system" ? entry.lastMessage ?? null : { conversationId: n.conversationId, seq: n.seq, clientId: "", sender: n.sender, kind: n.kind, body: {}, ts: Date.now(), preview: n.preview },
    };
    this.conversations = [updated, ...this.conversations.filter((c) => c.id !== n.conversationId)];
    this.changed();
  }

  async refreshList(): Promise<void> {
    try {
      const { conversations } = await this.api.listConversations();
      this.conversations = conversations.map((c) => (c.id === this.openId ? { ...c, unread: 0 } : c));
      this.listLoaded = true;
      for (const c of conversations) c.members.forEach((m) => this.wantUser(m));
      await this.refreshPresence();
      this.changed();
    } catch (err) {
      this.report(err);
    }
  }

  /** Presence of the other person of every direct chat. */
  async refreshPresence(): Promise<void> {
    const partners = [...new Set(this.conversations.filter((c) => c.type === "direct").map((c) => this.partnerOf(c)).filter((u): u is string => !!u))];
    if (partners.length === 0) return;
    const { presence } = await this.api.presence(partners.slice(0, 200));
    for (const [id, p] of Object.entries(presence)) this.presence.set(id, p.status);
  }

  /** Presence of some people (e.g. a group's members); later changes arrive on the device channel. */
  async loadPresence(userIds: string[]): Promise<void> {
    const ids = userIds.filter((u) => u !== "bot" && u !== this.session.userId).slice(0, 200);
    if (ids.length === 0) return;
    try {
      const { presence } = await this.api.presence(ids);
      for (const [id, p] of Object.entries(presence)) this.presence.set(id, p.status);
      this.changed();
    } catch (err) {
      this.report(err);
    }
  }

  /** Online or offline; this device counts for the signed-in person while its channel is open. */
  statusOf(userId: string): "online" | "offline" {
    if (userId === this.session.userId) return this.channelState === "open" ? "online" : "offline";
    return this.presence.get(userId) ?? "offline";
  }

  open(id: string | undefined): void {
    this.openId = id;
    this.conversations = this.conversations.map((c) => (c.id === id ? { ...c, unread: 0 } : c));
    this.changed();
  }

  /** Reflect something the open conversation learned (its latest message, a rename) in the list. */
  patchConversation(id: string, patch: Partial<Conversation>): void {
    const index = this.conversations.findIndex((c) => c.id === id);
    if (index < 0) return void this.refreshList();
    const current = this.conversations[index]!;
    const moved = patch.activityAt !== undefined && patch.activityAt !== current.activityAt;
    const next = { ...current, ...patch };
    this.conversations = moved ? [next, ...this.conversations.filter((c) => c.id !== id)] : this.conversations.map((c) => (c.id === id ? next : c));
    this.changed();
  }

  partnerOf(c: Conversation): string | undefined {
    return c.members.find((m) => m !== this.session.userId) ?? c.members[0];
  }

  /** A person's display name, fetched once and cached. */
  nameOf(userId: string): string {
    if (userId === "bot") return t("bot");
    if (userId === this.session.userId) return this.users.get(userId)?.name ?? userId;
    this.wantUser(userId);
    return this.users.get(userId)?.name ?? userId;
  }

  titleOf(c: Conversation): string {
    if (c.type === "group") return c.name ?? c.id;
    const partner = this.partnerOf(c);
    return partner ? this.nameOf(partner) : c.id;
  }

  /** People known from shared conversations, for pickers. */
  knownPeople(): string[] {
    const ids = new Set<string>();
    for (const c of this.conversations) for (const m of c.members) if (m !== this.session.userId && m !== "bot") ids.add(m);
    return [...ids].sort((a, b) => this.nameOf(a).localeCompare(this.nameOf(b)));
  }

  wantUser(userId: string): void {
    if (userId === "bot" || userId === "system" || this.users.has(userId) || this.userRequests.has(userId)) return;
    this.userRequests.add(userId);
    this.api.user(userId).then(
      (profile) => {
        this.users.set(userId, profile);
        this.changed();
      },
      () => this.users.set(userId, null),
    );
  }

  /** Show an error in words. An unauthorized answer means the token is gone: the app signs out. */
  report(err: unknown): void {
    if (err instanceof SwitchboardError && (err.code === "unauthorized" || err.status === 401)) {
      this.authFailed = true;
      this.changed();
      return;
    }
    const text = err instanceof SwitchboardError ? err.message : err instanceof Error ? err.message : String(err);
    const notice = { id: ++this.noticeId, text };
    this.notices = [...this.notices.slice(-3), notice];
    this.changed();
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
    this.changed();
  }
}
