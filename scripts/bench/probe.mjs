// Where the time goes: unloaded round trips of three kinds on one conversation, one at a time with a gap,
// so no queueing is involved.
//   ping   -> pong      answered by the runtime itself (auto-response): network + proxy + runtime socket path
//   typing -> typing    wakes the conversation object and fans out to the other sockets, stores nothing
//   send   -> ack/message  the full path: validate, SQLite append, output gate (durable), fan-out
import WebSocket from "ws";
import { performance } from "node:perf_hooks";
import { Samples } from "./stats.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function probeRoundTrips({ urls, samples = 200, gapMs = 10, tag }) {
  const sockets = await Promise.all(
    urls.map(
      (url) =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(url, { perMessageDeflate: false });
          const sock = { ws, waiters: [] };
          ws.on("error", reject);
          ws.on("message", (data) => {
            const frame = JSON.parse(data);
            if (frame.type === "ready") return resolve(sock);
            const now = performance.now();
            sock.waiters = sock.waiters.filter((w) => !(w.match(frame) && (w.resolve(now), true)));
          });
        }),
    ),
  );
  const wait = (sock, match) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), 5_000);
      sock.waiters.push({ match, resolve: (t) => (clearTimeout(timer), resolve(t)) });
    });

  const ping = new Samples();
  const typing = new Samples();
  const ack = new Samples();
  const deliver = new Samples();
  let timeouts = 0;
  const n = sockets.length;
  for (let k = 0; k < samples; k++) {
    const s = sockets[0];
    const got = wait(s, (f) => f.type === "pong");
    const t = performance.now();
    s.ws.send('{"type":"ping"}');
    const at = await got;
    if (at === null) timeouts++;
    else ping.push(at - t);
    await sleep(gapMs);
  }
  for (let k = 0; k < samples; k++) {
    const from = sockets[k % n];
    const to = sockets[(k + 1) % n];
    const got = wait(to, (f) => f.type === "typing");
    const t = performance.now();
    from.ws.send('{"type":"typing"}');
    const at = await got;
    if (at === null) timeouts++;
    else typing.push(at - t);
    await sleep(gapMs);
  }
  for (let k = 0; k < samples; k++) {
    const from = sockets[k % n];
    const to = sockets[(k + 1) % n];
    const clientId = `${tag}.probe.${k}`;
    const acked = wait(from, (f) => f.type === "ack" && f.clientId === clientId);
    const delivered = wait(to, (f) => f.type === "message" && f.message.clientId === clientId);
    const t = performance.now();
    from.ws.send(JSON.stringify({ type: "send", clientId, kind: "text", body: { text: "probe" } }));
    const [a, d] = await Promise.all([acked, delivered]);
    if (a === null || d === null) timeouts++;
    else {
      ack.push(a - t);
      deliver.push(d - t);
    }
    await sleep(gapMs);
  }
  for (const s of sockets) s.ws.close();
  return { sockets: n, samples, ping: ping.summary(), typing: typing.summary(), sendAck: ack.summary(), sendDelivery: deliver.summary(), timeouts };
}
