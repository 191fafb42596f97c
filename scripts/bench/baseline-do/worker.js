// The bare Durable Object chat room: the floor of the runtime itself for `npm run bench`. It speaks the frames
// of baseline-server.mjs (the bare ws floor), as a minimal production-shaped room would on this runtime:
//   GET /health                 -> {"ok":true}
//   any other path + Upgrade    -> the room object named by the path (idFromName)
// On connect: `ready` {type, conversationId, lastSeq}, then the room's messages after `?after=`. `send` -> next
// seq, the row INSERTed into the object's SQLite, `ack` to the sender, then one `message` text to every socket
// of the room (the sender's included); `typing` goes to the others; `ping` gets `pong` from the runtime itself
// (auto-response, the object is not woken). Sockets are hibernatable; the open ones and their devices are kept
// in memory and rebuilt from the runtime after a wake-up; seq is kept in memory and read back from SQLite
// when the object starts. No auth, no validation beyond JSON.parse, no rate limit, no mirror.
import { DurableObject } from "cloudflare:workers";

const PING = '{"type":"ping"}';
const PONG = '{"type":"pong"}';

export class Room extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, client_id TEXT, sender TEXT, kind TEXT, body TEXT, ts INTEGER NOT NULL)");
    this.seq = this.sql.exec("SELECT max(seq) AS seq FROM messages").one().seq ?? 0;
    /** The room's name (its URL path): from the upgrade, or from a socket's attachment after a wake-up. */
    this.name = undefined;
    /** Open sockets -> device; undefined until first needed (after a wake-up: rebuilt from the runtime). */
    this.open = undefined;
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  sockets() {
    if (!this.open) {
      this.open = new Map();
      for (const ws of this.ctx.getWebSockets()) {
        const { room, device } = ws.deserializeAttachment() ?? {};
        this.name ??= room;
        this.open.set(ws, device);
      }
    }
    return this.open;
  }

  async fetch(request) {
    const url = new URL(request.url);
    const device = url.searchParams.get("device") ?? "default";
    const after = Number(url.searchParams.get("after") ?? 0);
    this.name ??= url.pathname;
    const sockets = this.sockets();
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ room: this.name, device });
    sockets.set(server, device);
    server.send(JSON.stringify({ type: "ready", conversationId: this.name, lastSeq: this.seq }));
    if (after < this.seq) {
      for (const row of this.sql.exec("SELECT seq, client_id, sender, kind, body, ts FROM messages WHERE seq > ? ORDER BY seq", after)) {
        const message = { conversationId: this.name, seq: row.seq, clientId: row.client_id, sender: row.sender, kind: row.kind, body: row.body === null ? null : JSON.parse(row.body), ts: row.ts };
        server.send(JSON.stringify({ type: "message", message }));
      }
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  webSocketMessage(ws, data) {
    let frame;
    try {
      frame = JSON.parse(typeof data === "string" ? data : "");
    } catch {
      return trySend(ws, JSON.stringify({ type: "error", code: "invalid_request", message: "frame: malformed JSON" }));
    }
    const sockets = this.sockets();
    switch (frame?.type) {
      case "ping": // not the auto-response's exact text (e.g. other spacing)
        return trySend(ws, PONG);
      case "typing": {
        const text = JSON.stringify({ type: "typing", userId: sockets.get(ws) });
        for (const peer of sockets.keys()) if (peer !== ws && !trySend(peer, text)) sockets.delete(peer);
        return;
      }
      case "send": {
        const seq = this.seq + 1;
        const ts = Date.now();
        const sender = sockets.get(ws);
        const { clientId, kind, body } = frame;
        this.sql.exec(
          "INSERT INTO messages (seq, client_id, sender, kind, body, ts) VALUES (?, ?, ?, ?, ?, ?)",
          seq, clientId ?? null, sender ?? null, kind ?? null, body === undefined ? null : JSON.stringify(body), ts,
        );
        this.seq = seq;
        trySend(ws, JSON.stringify({ type: "ack", clientId, seq, ts }));
        const text = JSON.stringify({ type: "message", message: { conversationId: this.name, seq, clientId, sender, kind, body, ts } });
        for (const peer of sockets.keys()) if (!trySend(peer, text)) sockets.delete(peer);
        return;
      }
    }
  }

  webSocketClose(ws, code, reason) {
    this.open?.delete(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed (the runtime answered the close itself)
    }
  }

  webSocketError(ws) {
    this.open?.delete(ws);
  }
}

/** Send on a socket that may be closing; false when it could not be sent. */
function trySend(ws, text) {
  try {
    ws.send(text);
    return true;
  } catch {
    return false;
  }
}

export default {
  fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return Response.json({ ok: true });
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade\n", { status: 426 });
    return env.ROOM.get(env.ROOM.idFromName(url.pathname)).fetch(request);
  },
};
