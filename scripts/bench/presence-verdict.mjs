// Scenario P's verdict on one run: which notify frames and pushes each acked message should cause, which came
// (with their latencies), which are missing, duplicated or unexpected, and the pushes per second of the run.
import { Samples } from "./stats.mjs";

/**
 * What every acked message should cause: a notify frame on the channel of each online member but the
 * sender (key user|conv|seq), a push to the webhook device of each offline member (key user|device|conv|seq).
 */
export function expectations(acked) {
  const expectedNotify = [];
  const expectedPush = [];
  for (const m of acked) {
    for (const u of m.group.online) if (u !== m.group.sender) expectedNotify.push({ key: `${u}|${m.group.id}|${m.seq}`, m });
    for (const u of m.group.offline) if (u !== m.group.sender) expectedPush.push({ key: `${u}|p-${u}|${m.group.id}|${m.seq}`, m, user: u });
  }
  return { expectedNotify, expectedPush };
}

/** The notify frames that came (`notifies`: user|conv|seq -> { n, at, sender, muted }) against those expected. */
export function judgeNotifies(expectedNotify, notifies, bySeq) {
  const latency = new Samples();
  const lastRecipient = new Map(); // message -> latest notify latency
  let missing = 0;
  let duplicated = 0;
  let wrongFields = 0;
  const expectedKeys = new Set();
  for (const e of expectedNotify) {
    expectedKeys.add(e.key);
    const got = notifies.get(e.key);
    if (!got) {
      missing++;
      continue;
    }
    if (got.n > 1) duplicated += got.n - 1;
    if (got.sender !== e.m.group.sender || got.muted !== false) wrongFields++;
    const ms = got.at - e.m.sentAt;
    latency.push(ms);
    if (!(lastRecipient.get(e.m) >= ms)) lastRecipient.set(e.m, ms);
  }
  // Frames nobody should have got: the sender's own, another group's, or for a seq this run did not send.
  let unexpected = 0;
  let toSender = 0;
  for (const [key, got] of notifies) {
    if (expectedKeys.has(key)) continue;
    const [user, conv, seq] = key.split("|");
    const m = bySeq.get(`${conv}|${seq}`);
    if (m && m.group.sender === user) toSender += got.n;
    else unexpected += got.n;
  }
  const fanout = new Samples();
  for (const ms of lastRecipient.values()) fanout.push(ms);
  return { latency, fanout, missing, duplicated, wrongFields, unexpected, toSender };
}

/** The pushes that came (`pushes`: user|device|conv|seq -> { n, at }) against those expected. */
export function judgePushes(expectedPush, pushes, offlineSet) {
  const latency = new Samples();
  let missing = 0;
  let missingCovered = 0; // missing, but a later seq of the same conversation reached that device (a coalesced hand-over?)
  let duplicated = 0;
  const expectedKeys = new Set();
  const newestPushed = new Map(); // user|conv -> highest seq pushed
  for (const [key] of pushes) {
    const [user, , conv, seq] = key.split("|");
    const k = `${user}|${conv}`;
    newestPushed.set(k, Math.max(newestPushed.get(k) ?? 0, Number(seq)));
  }
  for (const e of expectedPush) {
    expectedKeys.add(e.key);
    const got = pushes.get(e.key);
    if (!got) {
      missing++;
      if ((newestPushed.get(`${e.user}|${e.m.group.id}`) ?? 0) > e.m.seq) missingCovered++;
      continue;
    }
    if (got.n > 1) duplicated += got.n - 1;
    latency.push(got.at - e.m.sentAt);
  }
  let toOnline = 0;
  let unexpected = 0;
  for (const [key, got] of pushes) {
    if (expectedKeys.has(key)) continue;
    const user = key.split("|")[0];
    if (!offlineSet.has(user)) toOnline += got.n;
    else unexpected += got.n;
  }
  return { latency, missing, missingCovered, duplicated, toOnline, unexpected };
}

/** Per second of the run (from `t0`): messages sent, pushes they should cause, pushes that arrived. */
export function pushTimeline(t0, sentList, expectedPush, arrivals) {
  const timeline = [];
  const slot = (t) => Math.max(0, Math.floor((t - t0) / 1000));
  const at = (i) => (timeline[i] ??= { second: i, sent: 0, pushesDue: 0, pushesArrived: 0 });
  for (const m of sentList) at(slot(m.sentAt)).sent++;
  for (const e of expectedPush) at(slot(e.m.sentAt)).pushesDue++;
  for (const t of arrivals) at(slot(t)).pushesArrived++;
  for (let i = 0; i < timeline.length; i++) at(i);
  return timeline;
}
