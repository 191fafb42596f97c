// End-to-end mirror throughput: text messages sent over real WebSockets to conversation objects at fixed
// offered rates, timed until D1 holds them. The objects mirror on their alarm (~200 ms after a change, up to
// 2,000 messages / 512 KiB per flush); D1 is polled with a count every 100 ms through the bench route.
import WebSocket from "ws";
import { performance } from "node:perf_hooks";
import { sleep, summarize } from "./util.mjs";

const NO_REPLAY = 999_999_999_999_999; // the largest `after` the API accepts (15 digits): no replay on connect
const TICK_MS = 50;

function connect(url, onAck) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const s = { ws, errors: [], frames: 0 };
    const timer = setTimeout(() => reject(new Error("socket did not become ready in 30 s")), 30_000);
    ws.on("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => reject(new Error(`WebSocket upgrade refused: ${res.statusCode} ${body.slice(0, 200)}`)));
    });
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
      } else if (f.type === "ack") onAck(f.clientId);
      else if (f.type === "error") s.errors.push(f);
    });
  });
}

/**
 * convs: [{ id, users: [{ id, token }] }]; every user opens one socket (one device). For each offered
 * rate (messages/s over all sockets, at most 50/s per device: the send limit) messages go out for
 * `seconds`, spread evenly over the sockets in 50 ms ticks; then we wait until D1 holds all of them.
 * `count()` returns how many messages of these conversations D1 holds; `text()` makes message text. The
 * last message of each conversation's first socket carries `marker`, for a check through search.
 */
export async function e2eMirror({ base, convs, rates, seconds, count, text, marker, drainTimeoutMs = 120_000, log = () => {} }) {
  const wsBase = base.replace(/^http/, "ws");
  const sentAt = new Map();
  const ackAt = new Map();
  const onAck = (clientId) => ackAt.set(clientId, performance.now());
  const plan = convs.flatMap((c) => c.users.map((u, j) => ({ conv: c.id, user: u, first: j === 0 })));
  const sockets = await Promise.all(
    plan.map(async (p) => ({ ...p, s: await connect(`${wsBase}/v1/conversations/${p.conv}/ws?token=${p.user.token}&device=bench-e2e&after=${NO_REPLAY}`, onAck) })),
  );
  log(`e2e: ${sockets.length} sockets (one device each) in ${convs.length} conversations`);
  const steps = [];
  let serial = 0;
  for (let r = 0; r < rates.length; r++) {
    const rate = rates[r];
    const total = Math.round(rate * seconds);
    const before = await count();
    const ids = [];
    const series = [];
    let polling = true;
    const t0 = performance.now();
    const poller = (async () => {
      while (polling) {
        const c = (await count()) - before;
        series.push([performance.now() - t0, c]);
        if (c >= total || performance.now() - t0 > seconds * 1000 + drainTimeoutMs) break;
        await sleep(100);
      }
    })();
    // Offered load: `total` messages over `seconds`, round-robin over sockets, paced per 50 ms tick.
    let sent = 0;
    const last = r === rates.length - 1;
    for (let tick = 0; sent < total; tick++) {
      const due = Math.min(total, Math.round((rate * (tick + 1) * TICK_MS) / 1000));
      for (; sent < due; sent++) {
        const p = sockets[sent % sockets.length];
        const clientId = `e2e-${marker}-${serial++}`;
        const final = last && p.first && total - sent <= sockets.length;
        const frame = JSON.stringify({ type: "send", clientId, kind: "text", body: { text: `${text()}${final ? ` ${marker}` : ""}` } });
        sentAt.set(clientId, performance.now() - t0);
        ids.push(clientId);
        p.s.ws.send(frame);
      }
      const wait = t0 + (tick + 1) * TICK_MS - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const sendWindowMs = performance.now() - t0;
    await poller;
    polling = false;
    // Acks precede D1 in practice; give stragglers a moment.
    const deadline = performance.now() + 5_000;
    while (performance.now() < deadline && ids.some((id) => !ackAt.has(id))) await sleep(50);
    const acks = ids.filter((id) => ackAt.has(id)).map((id) => ackAt.get(id) - t0);
    const ackLatency = ids.filter((id) => ackAt.has(id)).map((id) => ackAt.get(id) - t0 - sentAt.get(id));
    const landed = series.at(-1)?.[1] ?? 0;
    const allInD1Ms = landed >= total ? series.find(([, c]) => c >= total)[0] : null;
    const lastAckMs = acks.length ? Math.max(...acks) : null;
    // D1 lag per message, FIFO approximation: the k-th message sent vs the first poll that saw k in D1.
    const sendTimes = ids.map((id) => sentAt.get(id)).sort((a, b) => a - b);
    const lags = [];
    let j = 0;
    for (let k = 1; k <= Math.min(landed, total); k++) {
      while (j < series.length && series[j][1] < k) j++;
      if (j < series.length) lags.push(series[j][0] - sendTimes[k - 1]);
    }
    const lag = summarize(lags);
    const ack = summarize(ackLatency);
    const step = {
      offeredPerSecond: rate,
      messages: total,
      sendWindowSeconds: sendWindowMs / 1000,
      acked: acks.length,
      ackedPerSecond: lastAckMs ? (acks.length * 1000) / lastAckMs : null,
      ackLatencyMsP50: ack.p50,
      ackLatencyMsP99: ack.p99,
      allInD1Seconds: allInD1Ms === null ? null : allInD1Ms / 1000,
      d1PerSecond: allInD1Ms ? (total * 1000) / allInD1Ms : null,
      d1LagMsP50: lag.p50,
      d1LagMsMax: lag.max,
      polls: series.length,
      landed,
    };
    steps.push(step);
    log(
      `e2e: offered ${rate}/s x ${seconds} s: acked ${step.acked}/${total} at ${Math.round(step.ackedPerSecond ?? 0)}/s (ack p50 ${Math.round(ack.p50 ?? 0)} ms, p99 ${Math.round(ack.p99 ?? 0)} ms); ` +
        `all in D1 after ${step.allInD1Seconds?.toFixed(2) ?? "-"} s = ${Math.round(step.d1PerSecond ?? 0)}/s; D1 lag p50 ${Math.round(lag.p50 ?? 0)} ms, max ${Math.round(lag.max ?? 0)} ms`,
    );
    await sleep(1_000);
  }
  const errors = sockets.flatMap((p) => p.s.errors);
  const frames = sockets.reduce((s, p) => s + p.s.frames, 0);
  for (const p of sockets) p.s.ws.close();
  return { conversations: convs.length, sockets: sockets.length, seconds, steps, errors: errors.length, errorSample: errors.slice(0, 3), framesReceived: frames };
}
