import type { ServerFrame } from "../src/protocol/frames";
import { trySend } from "../src/protocol/sockets";
import type { Fanout } from "../src/domain/model";

/** Who a conversation socket belongs to, as the Worker verified it at the upgrade. */
export interface SocketIdentity {
  tenantId: string;
  userId: string;
  deviceId: string;
  /** The upgrade's request id and accept time, for the reporting log's line when the socket ends. */
  requestId?: string | undefined;
  since?: number | undefined;
}

/**
 * The live sockets of one conversation object: accepted with tags (user, device) and an identity in
 * their hibernation attachment. The open sockets and their identities are kept in memory, rebuilt
 * lazily after a wake-up: asking the runtime for every socket, or deserializing an attachment (a
 * structured clone), is too dear for every frame and every broadcast.
 */
export class RoomSockets implements Fanout {
  private open: Set<WebSocket> | undefined;
  private readonly identities = new WeakMap<WebSocket, SocketIdentity>();

  constructor(
    private readonly ctx: DurableObjectState,
    /** Counts message frames handed to sockets (usage metering). */
    private readonly delivered: (sockets: number) => void,
  ) {}

  private sockets(): Set<WebSocket> {
    this.open ??= new Set(this.ctx.getWebSockets());
    return this.open;
  }

  accept(ws: WebSocket, identity: SocketIdentity): void {
    this.ctx.acceptWebSocket(ws, [`u:${identity.userId}`, `d:${identity.deviceId}`]);
    ws.serializeAttachment(identity);
    this.identities.set(ws, identity);
    this.sockets().add(ws);
  }

  /** Open sockets of the conversation, or of one user. */
  count(userId?: string): number {
    return userId === undefined ? this.sockets().size : this.ctx.getWebSockets(`u:${userId}`).length;
  }

  forget(ws: WebSocket): void {
    this.open?.delete(ws);
  }

  /** The identity of a socket; read from its attachment once after a wake-up. */
  identity(ws: WebSocket): SocketIdentity | undefined {
    let identity = this.identities.get(ws);
    if (!identity) {
      identity = identityOf(ws.deserializeAttachment());
      if (identity) this.identities.set(ws, identity);
    }
    return identity;
  }

  /** Users with a socket open here. */
  liveUsers(): Set<string> {
    const users = new Set<string>();
    for (const ws of this.sockets()) {
      const identity = this.identity(ws);
      if (identity) users.add(identity.userId);
    }
    return users;
  }

  broadcast(frame: ServerFrame, skip?: (userId: string, socket: unknown) => boolean): void {
    const data = JSON.stringify(frame);
    const sockets = this.sockets();
    let sent = 0;
    for (const ws of sockets) {
      if (skip) {
        const identity = this.identity(ws);
        if (!identity || skip(identity.userId, ws)) continue;
      }
      if (trySend(ws, data)) sent += 1;
      else sockets.delete(ws);
    }
    if (frame.type === "message") this.delivered(sent);
  }

  toUser(userId: string, frame: ServerFrame): void {
    const data = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets(`u:${userId}`)) trySend(ws, data);
  }

  disconnectUser(userId: string, code: number, message: string): void {
    const data = JSON.stringify({ type: "error", code: "forbidden", message } satisfies ServerFrame);
    for (const ws of this.ctx.getWebSockets(`u:${userId}`)) {
      trySend(ws, data);
      try {
        this.open?.delete(ws);
        ws.close(code, message);
      } catch {
        // already closing
      }
    }
  }
}

/** Send one frame to one socket. */
export function send(ws: WebSocket, frame: ServerFrame): void {
  trySend(ws, JSON.stringify(frame));
}

/** The attachment was written by `accept`; a hand check is enough (and cheaper than a schema). */
function identityOf(a: unknown): SocketIdentity | undefined {
  if (typeof a !== "object" || a === null || !("tenantId" in a) || !("userId" in a) || !("deviceId" in a)) return undefined;
  const { tenantId, userId, deviceId } = a;
  if (typeof tenantId !== "string" || typeof userId !== "string" || typeof deviceId !== "string") return undefined;
  const requestId = "requestId" in a ? a.requestId : undefined;
  const since = "since" in a ? a.since : undefined;
  return {
    tenantId,
    userId,
    deviceId,
    ...(typeof requestId === "string" ? { requestId } : {}),
    ...(typeof since === "number" ? { since } : {}),
  };
}
