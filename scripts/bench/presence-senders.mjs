// Scenario P's senders: one conversation WebSocket per group, of the group's first online member. Their acks
// give every message sent its seq.
import WebSocket from "ws";
import { performance } from "node:perf_hooks";

/**
 * Open a sender socket for every group of `seeded` (from seedPresence); resolves once each is ready. A
 * message in flight is in `acks.pending` under its clientId: its ack sets the message's `seq` and `ackAt`,
 * files it under conv|seq in `acks.bySeq` and moves `acks.lastAt`. Error frames, acks of nothing and
 * unexpected closes go to `countError`.
 */
export function openSenders(wsBase, seeded, acks, countError) {
  return Promise.all(
    seeded.groups.map(
      (g) =>
        new Promise((resolve, reject) => {
          const url = `${wsBase}/v1/conversations/${g.id}/ws?token=${encodeURIComponent(seeded.tokenOf.get(g.sender))}&after=0&device=send-${g.idx}`;
          const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 30_000 });
          const s = { g, ws, ready: false, closing: false };
          ws.on("error", (err) => (s.ready ? countError("sender_socket_error") : reject(err)));
          ws.on("unexpected-response", (_req, res) => reject(new Error(`sender socket of ${g.id}: HTTP ${res.statusCode}`)));
          ws.on("close", () => {
            if (s.ready && !s.closing) countError("sender_socket_closed");
          });
          ws.on("message", (data) => {
            const now = performance.now();
            const frame = JSON.parse(data);
            if (frame.type === "ready") {
              s.ready = true;
              return resolve(s);
            }
            if (frame.type === "ack") {
              const m = acks.pending.get(frame.clientId);
              if (!m) return countError("unexpected_ack");
              acks.pending.delete(frame.clientId);
              m.seq = frame.seq;
              m.ackAt = now;
              acks.lastAt = now;
              acks.bySeq.set(`${g.id}|${frame.seq}`, m);
            } else if (frame.type === "error") {
              countError(`send_${frame.code ?? "error"}`);
              if (frame.clientId !== undefined) acks.pending.delete(frame.clientId);
            }
          });
        }),
    ),
  );
}
