// End-to-end mirror throughput: messages sent over real WebSockets to conversation objects, timed until D1
// holds all of them (the objects' outboxes mirror on their alarm, ~200 ms after a change, up to 2,000
// messages / 512 KiB per flush). D1 is polled with a count every 100 ms.
import WebSocket from "ws";
import { performance } from "node:perf_hooks";
import { sleep } from "./util.mjs";

const NO_REPLAY = 999_999_999_999_999; // the largest `after` the API accepts (15 digits): no replay on connect

function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const s = { ws, acks: [], errors: [], frames: 0 };
    const timer = setTimeout(() => reject(new Error("socket did not become ready in 30 s")), 30_000);
    ws.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.on("message", (data) => {
      s.frames++;
      const f = JSON.parse(data);
      if (f.type === "ready") {
        clearTimeout(timer);
        resolve(s);
      } else if (f.type === "ack") s.acks.push(performance.now());
      else if (f.type === "error") s.errors.push(f);
    });
  });
}

/**
 * convs: [{ id, users: [{ id, token }] }]; every user opens one socket and sends `perDevice` text messages
 * back to back (within the per-device burst of 300). `count()` returns how many messages of these
 * conversations D1 holds. `text(i)` makes message text. The last message of each conversation's first
 * socket carries `marker`, for a final check through the search endpoint.
 */
export async function e2eMirror({ base, convs, perDevice, count, text, marker, timeoutMs = 180_000, log = () => {} }) {
  const wsBase = base.replace(/^http/, "ws");
  const plan = convs.flatMap((c) => c.users.map((u, j) => ({ conv: c.id, user: u, first: j === 0 })));
  const sockets = await Promise.all(
    plan.map(async (p) => ({ ...p, s: await connect(`${wsBase}/v1/conversations/${p.conv}/ws?token=${p.user.token}&device=bench-e2e&after=${NO_REPLAY}`) })),
  );
  const before = await count();
  const total = plan.length * perDevice;
  log(`e2e: ${sockets.length} sockets in ${convs.length} conversations, sending ${total} messages (${perDevice} each); D1 holds ${before} of theirs before`);

  // Pre-build the frames so the send loop is only socket writes.
  let n = 0;
  const frames = sockets.map((p) =>
    Array.from({ length: perDevice }, (_, k) => {
      const body = text(n++) + (p.first && k === perDevice - 1 ? ` ${marker}` : "");
      return JSON.stringify({ type: "send", clientId: `e2e-${marker}-${p.user.id}-${k}`, kind: "text", body: { text: body } });
    }),
  );

  const series = [];
  let done = false;
  const t0 = performance.now();
  const poller = (async () => {
    while (!done) {
      const c = (await count()) - before;
      series.push([performance.now() - t0, c]);
      if (c >= total) break;
      if (performance.now() - t0 > timeoutMs) break;
      await sleep(100);
    }
  })();
  // Interleave sockets so every conversation gets work from the start.
  for (let k = 0; k < perDevice; k++) for (let i = 0; i < sockets.length; i++) sockets[i].s.ws.send(frames[i][k]);
  const sentMs = performance.now() - t0;
  await poller;
  done = true;

  // Let straggling acks arrive (they precede D1 in practice).
  const deadline = performance.now() + 5_000;
  while (performance.now() < deadline && sockets.some((p) => p.s.acks.length + p.s.errors.length < perDevice)) await sleep(50);
  const acks = sockets.flatMap((p) => p.s.acks.map((t) => t - t0));
  const errors = sockets.flatMap((p) => p.s.errors);
  const frameCount = sockets.reduce((s, p) => s + p.s.frames, 0);
  for (const p of sockets) p.s.ws.close();

  const landed = series.at(-1)?.[1] ?? 0;
  const landedAt = series.find(([, c]) => c >= Math.min(total, landed))?.[0] ?? null;
  const firstLandedAt = series.find(([, c]) => c > 0)?.[0] ?? null;
  const lastAck = acks.length ? Math.max(...acks) : null;
  // Busiest one-second window of D1 growth, from the poll series.
  let peak = 0;
  for (let i = 0, j = 0; i < series.length; i++) {
    while (series[i][0] - series[j][0] > 1_000) j++;
    const dt = series[i][0] - series[j][0];
    if (dt >= 500) peak = Math.max(peak, ((series[i][1] - series[j][1]) * 1000) / dt);
  }
  return {
    conversations: convs.length,
    sockets: sockets.length,
    messages: total,
    acked: acks.length,
    errors: errors.length,
    errorSample: errors.slice(0, 3),
    framesReceived: frameCount,
    sendLoopMs: sentMs,
    lastAckMs: lastAck,
    ackRate: lastAck ? (acks.length * 1000) / lastAck : null,
    firstInD1Ms: firstLandedAt,
    allInD1Ms: landed >= total ? landedAt : null,
    landed,
    endToEndRate: landed >= total && landedAt ? (total * 1000) / landedAt : null,
    lagAfterLastAckMs: landed >= total && landedAt && lastAck ? landedAt - lastAck : null,
    peakD1RatePerSecond: peak,
    polls: series.length,
    series: series.filter((_, i) => i % 5 === 0 || i === series.length - 1).map(([t, c]) => [Math.round(t), c]),
  };
}
