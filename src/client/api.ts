/**
 * Switchboard HTTP API for a signed-in person: conversations, history, the message lifecycle
 * (react, edit, recall, delete for me, receipts, decisions, card actions), attachments, search and
 * presence. Runs in browsers, Node 22+ and workerd; every refusal becomes a {@link SwitchboardError}
 * carrying the server's code and message.
 */
import type { Message } from "../protocol/frames";
import type { SendableKind } from "../domain/kinds";
import type { SendBodies, TokenSource } from "./types.ts";
import { SwitchboardError } from "./errors.ts";
import { arrayOf, both, isBoolean, isErrorCode, isMessage, isNumber, isString, nullable, oneOf, optional, recordOf, shape, type Guard } from "./guards.ts";
import { httpBase, tokenNow } from "./transport.ts";

export type Role = "owner" | "admin" | "member";

/** A conversation as `GET /v1/conversations/:id` (with `roles`) or the list (with `role`) gives it. */
export interface Conversation {
  id: string;
  type: "direct" | "group";
  name: string | null;
  members: string[];
  roles?: Record<string, Role>;
  role?: Role;
  createdAt: number;
  lastSeq: number;
  readSeq: number;
  unread: number;
  muted: boolean;
  activityAt?: number;
  lastMessage?: (Message & { preview?: string }) | null;
}

export interface UserProfile {
  id: string;
  name: string;
  title: string | null;
  avatarUrl: string | null;
}

export interface UploadedAttachment {
  id: string;
  name: string;
  size: number;
  contentType: string;
  width?: number;
  height?: number;
}

export interface Receipts {
  seq: number;
  readBy: string[];
  count: number;
  of: number;
}

export interface SearchHit {
  message: Message;
  /** Up to 64 characters around the first match, matches in `<mark>…</mark>`; the rest is NOT escaped. */
  snippet: string;
}

export interface Presence {
  status: "online" | "offline";
  lastSeen: number | null;
}

export interface ApiOptions {
  /** The service, e.g. `https://switchboard.example.com`; `""` means the page's own origin (browsers). */
  baseUrl: string;
  /** A user token, or a function returning a fresh one. */
  token: TokenSource;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

export interface UploadOptions {
  /** Called with bytes sent so far and the total, as the upload goes (browsers with XMLHttpRequest only). */
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
}

/** The part of a browser's XMLHttpRequest an upload with progress needs (workerd and Node have none). */
interface UploadRequest {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  abort(): void;
  readonly status: number;
  readonly responseText: string;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  onload: (() => void) | null;
}

/** A typed client of the public HTTP API, acting as one user. */
export class SwitchboardApi {
  private readonly options: ApiOptions;

  constructor(options: ApiOptions) {
    this.options = options;
  }

  // ---- conversations ----

  listConversations(limit = 100): Promise<{ conversations: Conversation[] }> {
    return this.call(conversationList, "GET", `/v1/conversations?limit=${limit}`);
  }

  conversation(id: string): Promise<Conversation> {
    return this.call(isConversation, "GET", `/v1/conversations/${enc(id)}`);
  }

  createDirect(withUser: string): Promise<Conversation> {
    return this.call(isConversation, "POST", "/v1/conversations", { type: "direct", with: withUser });
  }

  createGroup(name: string, members: string[]): Promise<Conversation> {
    return this.call(isConversation, "POST", "/v1/conversations", { type: "group", name, members });
  }

  addMembers(id: string, userIds: string[]): Promise<Conversation> {
    return this.call(isConversation, "POST", `/v1/conversations/${enc(id)}/members`, { userIds });
  }

  /** Remove a member; with one's own id, leave. */
  async removeMember(id: string, userId: string): Promise<void> {
    await this.call(ignored, "DELETE", `/v1/conversations/${enc(id)}/members/${enc(userId)}`);
  }

  setRole(id: string, userId: string, role: Role): Promise<Conversation> {
    return this.call(isConversation, "PUT", `/v1/conversations/${enc(id)}/members/${enc(userId)}`, { role });
  }

  setMuted(id: string, muted: boolean): Promise<{ conversationId: string; muted: boolean }> {
    return this.call(mutedAnswer, "PUT", `/v1/conversations/${enc(id)}/settings`, { muted });
  }

  async markRead(id: string, seq: number): Promise<void> {
    await this.call(ignored, "POST", `/v1/conversations/${enc(id)}/read`, { seq });
  }

  // ---- messages ----

  /** A page of history, ascending seq (see docs/protocol.md for how `after`/`before` combine). */
  history(id: string, page: { after?: number; before?: number; limit?: number } = {}): Promise<{ messages: Message[] }> {
    const params = new URLSearchParams();
    if (page.after !== undefined) params.set("after", String(page.after));
    if (page.before !== undefined) params.set("before", String(page.before));
    if (page.limit !== undefined) params.set("limit", String(page.limit));
    return this.call(messagePage, "GET", `/v1/conversations/${enc(id)}/messages?${params}`);
  }

  /** Send over HTTP (idempotent per `clientId`); live clients use {@link ConversationClient.send}. */
  send<K extends SendableKind>(id: string, kind: K, body: SendBodies[K], clientId: string, replyTo?: number): Promise<Message> {
    return this.call(isMessage, "POST", `/v1/conversations/${enc(id)}/messages`, { clientId, kind, body, ...(replyTo !== undefined ? { replyTo } : {}) });
  }

  react(id: string, seq: number, emoji: string, remove = false): Promise<{ seq: number; reactions: Record<string, string[]> }> {
    return this.call(reactionsAnswer, remove ? "DELETE" : "PUT", `/v1/conversations/${enc(id)}/messages/${seq}/reactions/${enc(emoji)}`);
  }

  edit(id: string, seq: number, body: SendBodies["text"] | SendBodies["log"]): Promise<Message> {
    return this.call(isMessage, "PATCH", `/v1/conversations/${enc(id)}/messages/${seq}`, { body });
  }

  recall(id: string, seq: number): Promise<Message> {
    return this.call(isMessage, "POST", `/v1/conversations/${enc(id)}/messages/${seq}/recall`);
  }

  /** Hide a message from this user's own history (on all their devices). */
  async deleteForMe(id: string, seq: number): Promise<void> {
    await this.call(ignored, "DELETE", `/v1/conversations/${enc(id)}/messages/${seq}`);
  }

  receipts(id: string, seq: number): Promise<Receipts> {
    return this.call(isReceipts, "GET", `/v1/conversations/${enc(id)}/messages/${seq}/receipts`);
  }

  decide(id: string, seq: number, decision: "approve" | "reject", clientId: string, comment?: string): Promise<{ decision: Message; request: Message }> {
    return this.call(decisionAnswer, "POST", `/v1/conversations/${enc(id)}/messages/${seq}/decision`, { clientId, decision, ...(comment ? { comment } : {}) });
  }

  async cardAction(id: string, seq: number, action: string): Promise<void> {
    await this.call(ignored, "POST", `/v1/conversations/${enc(id)}/messages/${seq}/actions`, { action });
  }

  // ---- attachments ----

  /** Upload bytes to a conversation; send them afterwards as an `image` or `file` message naming the id. */
  async upload(id: string, file: Blob, name: string, options: UploadOptions = {}): Promise<UploadedAttachment> {
    const path = `/v1/conversations/${enc(id)}/attachments?name=${enc(name)}`;
    const contentType = file.type || "application/octet-stream";
    // Typed against the Workers runtime, which has no XMLHttpRequest: the browser's is described by UploadRequest.
    const XHR = (globalThis as { XMLHttpRequest?: new () => UploadRequest }).XMLHttpRequest;
    if (!XHR || !options.onProgress) return this.call(isUploadedAttachment, "POST", path, file, contentType, options.signal);
    const token = await tokenNow(this.options.token);
    const onProgress = options.onProgress;
    return new Promise<UploadedAttachment>((resolve, reject) => {
      const xhr = new XHR();
      xhr.open("POST", `${this.base()}${path}`);
      xhr.setRequestHeader("authorization", `Bearer ${token}`);
      xhr.setRequestHeader("content-type", contentType);
      xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
      xhr.onerror = () => reject(new SwitchboardError("internal_error", "the upload failed: network error", { status: 0 }));
      xhr.onabort = () => reject(new SwitchboardError("closed", "the upload was cancelled"));
      xhr.onload = () => {
        const data = parseJson(xhr.responseText);
        if (xhr.status < 200 || xhr.status >= 300) reject(errorOf(xhr.status, data));
        else if (isUploadedAttachment(data)) resolve(data);
        else reject(unexpectedAnswer("POST", path, xhr.status));
      };
      options.signal?.addEventListener("abort", () => xhr.abort());
      xhr.send(file);
    });
  }

  /** A signed link to an attachment, valid for a few minutes, usable without a bearer (`<img src>`). */
  attachmentUrl(id: string, attachmentId: string): Promise<{ url: string; expiresAt: number }> {
    return this.call(signedUrl, "GET", `/v1/conversations/${enc(id)}/attachments/${enc(attachmentId)}/url`);
  }

  // ---- people, presence, search ----

  user(userId: string): Promise<UserProfile> {
    return this.call(isUserProfile, "GET", `/v1/users/${enc(userId)}`);
  }

  presence(userIds: string[]): Promise<{ presence: Record<string, Presence> }> {
    return this.call(presenceAnswer, "GET", `/v1/presence?users=${userIds.map(enc).join(",")}`);
  }

  searchMessages(q: string, filters: { conversationId?: string; from?: string; kind?: string; limit?: number; cursor?: string } = {}): Promise<{ hits: SearchHit[]; nextCursor: string | null }> {
    const params = new URLSearchParams({ q });
    for (const [key, value] of Object.entries(filters)) if (value !== undefined) params.set(key, String(value));
    return this.call(searchPage, "GET", `/v1/search/messages?${params}`);
  }

  searchConversations(q: string, limit = 20): Promise<{ conversations: Conversation[] }> {
    return this.call(conversationList, "GET", `/v1/search/conversations?${new URLSearchParams({ q, limit: String(limit) })}`);
  }

  // ---- plumbing ----

  /** Send a request; the answer must pass `expected`, or the call fails with a `protocol_error`. */
  private async call<T>(expected: Guard<T>, method: string, path: string, body?: unknown, contentType = "application/json", signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${await tokenNow(this.options.token)}` };
    let payload: BodyInit | undefined;
    if (body instanceof Blob) {
      payload = body;
      headers["content-type"] = contentType;
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["content-type"] = contentType;
    }
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(`${this.base()}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}), ...(signal ? { signal } : {}) });
    } catch (err) {
      throw new SwitchboardError("internal_error", `the service could not be reached (${err instanceof Error ? err.message : String(err)})`, { status: 0 });
    }
    const text = await res.text();
    const data = parseJson(text);
    if (!res.ok) throw errorOf(res.status, data);
    if (!expected(data)) throw unexpectedAnswer(method, path, res.status);
    return data;
  }

  private base(): string {
    return httpBase(this.options.baseUrl);
  }
}

function unexpectedAnswer(method: string, path: string, status: number): SwitchboardError {
  return new SwitchboardError("protocol_error", `the service answered ${method} ${path.split("?")[0]} with an unexpected body`, { status });
}

// ---- the shapes of the answers ----

/** An answer whose body the caller does not read (204, or an acknowledgement). */
const ignored = (_value: unknown): _value is unknown => true;
const isRole = oneOf<Role>("owner", "admin", "member");
const isConversation = shape<Conversation>({
  id: isString,
  type: oneOf("direct", "group"),
  name: nullable(isString),
  members: arrayOf(isString),
  roles: optional(recordOf(isRole)),
  role: optional(isRole),
  createdAt: isNumber,
  lastSeq: isNumber,
  readSeq: isNumber,
  unread: isNumber,
  muted: isBoolean,
  activityAt: optional(isNumber),
  lastMessage: optional(nullable(both(isMessage, shape<{ preview?: string }>({ preview: optional(isString) })))),
});
const conversationList = shape<{ conversations: Conversation[] }>({ conversations: arrayOf(isConversation) });
const mutedAnswer = shape<{ conversationId: string; muted: boolean }>({ conversationId: isString, muted: isBoolean });
const messagePage = shape<{ messages: Message[] }>({ messages: arrayOf(isMessage) });
const reactionsAnswer = shape<{ seq: number; reactions: Record<string, string[]> }>({ seq: isNumber, reactions: recordOf(arrayOf(isString)) });
const isReceipts = shape<Receipts>({ seq: isNumber, readBy: arrayOf(isString), count: isNumber, of: isNumber });
const decisionAnswer = shape<{ decision: Message; request: Message }>({ decision: isMessage, request: isMessage });
const isUploadedAttachment = shape<UploadedAttachment>({
  id: isString,
  name: isString,
  size: isNumber,
  contentType: isString,
  width: optional(isNumber),
  height: optional(isNumber),
});
const signedUrl = shape<{ url: string; expiresAt: number }>({ url: isString, expiresAt: isNumber });
const isUserProfile = shape<UserProfile>({ id: isString, name: isString, title: nullable(isString), avatarUrl: nullable(isString) });
const isPresence = shape<Presence>({ status: oneOf("online", "offline"), lastSeen: nullable(isNumber) });
const presenceAnswer = shape<{ presence: Record<string, Presence> }>({ presence: recordOf(isPresence) });
const isSearchHit = shape<SearchHit>({ message: isMessage, snippet: isString });
const searchPage = shape<{ hits: SearchHit[]; nextCursor: string | null }>({ hits: arrayOf(isSearchHit), nextCursor: nullable(isString) });

function enc(value: string): string {
  return encodeURIComponent(value);
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    const data: unknown = JSON.parse(text);
    return data;
  } catch {
    return undefined;
  }
}

/** The error envelope as a SwitchboardError; a body that is not an envelope still gets a message in words. */
function errorOf(status: number, data: unknown): SwitchboardError {
  const error = typeof data === "object" && data !== null && "error" in data ? data.error : undefined;
  const fields = typeof error === "object" && error !== null ? error : {};
  const code = "code" in fields && isErrorCode(fields.code) ? fields.code : statusCode(status);
  const message = "message" in fields && typeof fields.message === "string" ? fields.message : `HTTP ${status}`;
  return new SwitchboardError(code, message, { status });
}


function statusCode(status: number): SwitchboardError["code"] {
  if (status === 400) return "invalid_request";
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 413) return "too_large";
  if (status === 429) return "rate_limited";
  return "internal_error";
}
