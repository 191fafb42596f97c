import type { JsonObject, Message, ServerFrame } from "../../src/protocol/frames";
import type { Role } from "../../src/domain/membership";
import type { AttachmentRecord, EditHistory, Fanout, HistoryRange, SendResult } from "../../src/domain/model";
import type {
  AttachmentStore,
  ConversationStore,
  EditStore,
  MemberState,
  MemberStore,
  MessageLog,
  NewMessage,
  NewRoom,
  OutboundEvents,
  ReactionStore,
  ReaderStore,
  Room,
  RoomHeaderStore,
} from "../../src/domain/store";

/**
 * The conversation's store interfaces over plain memory, for the domain's unit tests: the same
 * contracts as src/storage/room-*.ts (seq = last + 1, idempotent appends, cursors only forward),
 * without SQLite.
 */
export class MemoryStore implements ConversationStore {
  header: Room | null = null;
  countable = 0;
  readonly rows = new Map<string, MemberState & { active: boolean }>();
  readonly messages: Message[] = [];
  readonly reactionRows: { seq: number; userId: string; emoji: string }[] = [];
  readonly editRows = new Map<number, EditHistory["edits"]>();
  readonly hiddenRows = new Set<string>();
  readonly uploads = new Map<string, AttachmentRecord>();
  readonly deletedFiles: string[] = [];
  readonly events: { type: string; payload: JsonObject }[] = [];

  readonly room: RoomHeaderStore = {
    get: () => this.header,
    create: (init: NewRoom) => {
      this.header = { tenantId: init.tenantId, conversationId: init.conversationId, type: init.type, name: init.name, createdBy: init.createdBy, createdAt: init.now, lastSeq: 0 };
      for (const m of init.members) this.rows.set(m.userId, { userId: m.userId, role: m.role, joinedAt: init.now, readSeq: 0, readOrdinal: 0, muted: false, active: true });
    },
  };

  private requireRoom(): Room {
    if (!this.header) throw new Error("no room");
    return this.header;
  }

  readonly members: MemberStore = {
    active: () => new Map([...this.rows].filter(([, m]) => m.active)),
    member: (userId) => {
      const m = this.rows.get(userId);
      return m?.active ? m : undefined;
    },
    add: (userIds, now) => {
      const added = userIds.filter((id) => !this.members.member(id));
      for (const id of added) {
        const was = this.rows.get(id);
        this.rows.set(id, {
          userId: id,
          role: "member",
          joinedAt: now,
          readSeq: Math.max(was?.readSeq ?? 0, this.requireRoom().lastSeq),
          readOrdinal: Math.max(was?.readOrdinal ?? 0, this.countable),
          muted: false,
          active: true,
        });
      }
      return added;
    },
    remove: (userId) => {
      const m = this.rows.get(userId);
      if (m) m.active = false;
    },
    setRole: (userId: string, role: Role) => {
      const m = this.rows.get(userId);
      if (m) m.role = role;
    },
    setMuted: (userId, muted) => {
      const m = this.members.member(userId);
      if (m) m.muted = muted;
    },
  };

  readonly readers: ReaderStore = {
    markRead: (userId, seq) => {
      const m = this.members.member(userId);
      if (!m) return undefined;
      const next = Math.max(m.readSeq, Math.min(seq, this.requireRoom().lastSeq));
      if (next === m.readSeq) return undefined;
      m.readSeq = next;
      m.readOrdinal = this.messages.filter((x) => x.seq <= next && x.kind !== "system").length;
      return next;
    },
    unreadOf: (member) => Math.max(0, this.countable - member.readOrdinal),
    hide: (userId, seq) => {
      const key = `${userId}:${seq}`;
      if (this.hiddenRows.has(key)) return false;
      this.hiddenRows.add(key);
      return true;
    },
    hiddenBetween: (userId, from, to) => new Set(this.messages.filter((m) => m.seq >= from && m.seq <= to && this.hiddenRows.has(`${userId}:${m.seq}`)).map((m) => m.seq)),
  };

  readonly log: MessageLog = {
    append: (input: NewMessage): SendResult => {
      const existing = this.log.findByClientId(input.sender, input.clientId);
      if (existing) return { status: "duplicate", message: existing };
      const room = this.requireRoom();
      room.lastSeq += 1;
      if (input.content.kind !== "system") this.countable += 1;
      const message: Message = { conversationId: room.conversationId, seq: room.lastSeq, clientId: input.clientId, sender: input.sender, kind: input.content.kind, body: input.content.body, ts: input.now };
      if (input.replyTo !== undefined) message.replyTo = input.replyTo;
      this.messages.push(message);
      const sender = this.members.member(input.sender);
      if (sender) {
        sender.readSeq = message.seq;
        sender.readOrdinal = this.countable;
      }
      return { status: "created", message: { ...message } };
    },
    message: (seq) => this.copy(this.messages.find((m) => m.seq === seq)),
    findByClientId: (sender, clientId) => this.copy(this.messages.find((m) => m.sender === sender && m.clientId === clientId)),
    page: (range: HistoryRange) => {
      const inRange = this.messages.filter((m) => m.seq > (range.after ?? 0) && m.seq < (range.before ?? Infinity));
      const picked = range.after === undefined ? inRange.slice(-range.limit) : inRange.slice(0, range.limit);
      return picked.map((m) => ({ ...m }));
    },
    lastCountable: () => this.copy(this.messages.filter((m) => m.kind !== "system").at(-1)),
    revise: (seq, change) => {
      const m = this.messages.find((x) => x.seq === seq);
      if (!m) return undefined;
      m.body = change.body;
      if (change.editedAt !== undefined) m.editedAt = change.editedAt;
      if (change.recalled) m.recalled = true;
      return { ...m };
    },
    editEventsOf: (seq) => this.messages.filter((m) => m.kind === "system" && m.body.event === "message_edited" && m.body.target === seq).map((m) => ({ ...m })),
    firstCard: (source, objectType, objectId) =>
      this.messages.find((m) => m.kind === "crm" && m.body.source === source && m.body.objectType === objectType && m.body.objectId === objectId)?.seq,
  };

  readonly reactions: ReactionStore = {
    set: (seq, userId, emoji, add) => {
      const at = this.reactionRows.findIndex((r) => r.seq === seq && r.userId === userId && r.emoji === emoji);
      if (add && at < 0) this.reactionRows.push({ seq, userId, emoji });
      else if (!add && at >= 0) this.reactionRows.splice(at, 1);
      else return false;
      return true;
    },
    countOf: (seq, userId) => this.reactionRows.filter((r) => r.seq === seq && r.userId === userId).length,
    between: (from, to) => {
      const out = new Map<number, Record<string, string[]>>();
      for (const r of this.reactionRows.filter((x) => x.seq >= from && x.seq <= to)) {
        const byEmoji = out.get(r.seq) ?? {};
        byEmoji[r.emoji] = [...(byEmoji[r.emoji] ?? []), r.userId];
        out.set(r.seq, byEmoji);
      }
      return out;
    },
  };

  readonly edits: EditStore = {
    record: (seq, body, editedAt) => {
      const list = this.editRows.get(seq) ?? [];
      list.push({ version: list.length + 1, body, replacedAt: editedAt });
      this.editRows.set(seq, list);
    },
    of: (seq) => this.editRows.get(seq) ?? [],
    forget: (seq) => void this.editRows.delete(seq),
  };

  readonly attachments: AttachmentStore = {
    register: (record) => void this.uploads.set(record.id, { ...record }),
    get: (id) => this.uploads.get(id),
    markSent: (id, seq) => {
      const a = this.uploads.get(id);
      if (a) a.sentSeq ??= seq;
    },
    discard: (id) => {
      this.uploads.delete(id);
      this.deletedFiles.push(id);
    },
  };

  readonly outbound: OutboundEvents = {
    enqueue: (type, payload) => void this.events.push({ type, payload }),
  };

  private copy(m: Message | undefined): Message | undefined {
    return m ? { ...m } : undefined;
  }
}

/** A fanout that records what the conversation would send to its sockets. */
export class RecordingFanout implements Fanout {
  readonly frames: ServerFrame[] = [];
  readonly toUsers: { userId: string; frame: ServerFrame }[] = [];
  readonly disconnected: { userId: string; code: number }[] = [];

  broadcast(frame: ServerFrame): void {
    this.frames.push(frame);
  }
  toUser(userId: string, frame: ServerFrame): void {
    this.toUsers.push({ userId, frame });
  }
  disconnectUser(userId: string, code: number): void {
    this.disconnected.push({ userId, code });
  }

  /** The messages broadcast so far. */
  messages(): Message[] {
    return this.frames.flatMap((f) => (f.type === "message" ? [f.message] : []));
  }
}
