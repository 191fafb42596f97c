#!/usr/bin/env node
// The baseline: a bare Node `ws` broadcast server speaking the same frames as a Switchboard conversation socket.
// Rooms are URL paths. On connect: `ready` then the room's messages after `?after=`. On `send`: next seq,
// `ack` to the sender, `message` to every socket of the room; `typing` goes to the others; `ping` gets `pong`.
// Messages are kept in memory only; there is no auth, no validation beyond JSON, no rate limit, no storage
// and no mirror: the floor for this workload.
// Usage: node baseline-server.mjs <port>
import { WebSocketServer } from "ws";

const port = Number(process.argv[2] ?? 8792);
const rooms = new Map();

function roomOf(path) {
  let room = rooms.get(path);
  if (!room) rooms.set(path, (room = { id: path, seq: 0, sockets: new Set(), log: [] }));
  return room;
}

const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false, clientTracking: false, backlog: 4096 });

wss.on("connection", (ws, req) => {
  const url = new URL(req.url, "http://x");
  const room = roomOf(url.pathname);
  const device = url.searchParams.get("device") ?? "default";
  const after = Number(url.searchParams.get("after") ?? 0);
  room.sockets.add(ws);
  ws.send(JSON.stringify({ type: "ready", conversationId: room.id, lastSeq: room.seq }));
  for (const message of room.log) if (message.seq > after) ws.send(JSON.stringify({ type: "message", message }));
  ws.on("message", (data, isBinary) => {
    let frame;
    try {
      frame = JSON.parse(isBinary ? "" : data.toString());
    } catch {
      ws.send(JSON.stringify({ type: "error", code: "invalid_request", message: "frame: malformed JSON" }));
      return;
    }
    if (frame.type === "ping") return ws.send('{"type":"pong"}');
    if (frame.type === "typing") {
      const text = JSON.stringify({ type: "typing", userId: device });
      for (const peer of room.sockets) if (peer !== ws) peer.send(text);
      return;
    }
    if (frame.type !== "send") return;
    const message = { conversationId: room.id, seq: ++room.seq, clientId: frame.clientId, sender: device, kind: frame.kind, body: frame.body, ts: Date.now() };
    room.log.push(message);
    ws.send(JSON.stringify({ type: "ack", clientId: frame.clientId, seq: message.seq, ts: message.ts }));
    const text = JSON.stringify({ type: "message", message });
    for (const peer of room.sockets) peer.send(text);
  });
  ws.on("close", () => room.sockets.delete(ws));
  ws.on("error", () => room.sockets.delete(ws));
});

wss.on("listening", () => console.log(`listening ${port}`));
wss.on("error", (err) => {
  console.error(err.message);
  process.exit(1);
});
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
