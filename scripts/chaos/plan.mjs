// The shape of a chaos run: conversations, devices, rates and the timeline of traffic, restarts and idle
// periods, for the short form (CI) and the long form (by hand).

/** The runtime evicts an idle Durable Object after about 10 s; an idle period must outlast that. */
export const HIBERNATION_MS = 10_000;

const pad = (n, width) => String(n).padStart(width, "0");

/**
 * Conversations: `members` (the first one creates it), `second` members who also use a second device,
 * `http` members whose backend also posts over HTTP.
 */
function shortPlan() {
  return {
    name: "short",
    conversations: [
      { type: "group", members: ["u01", "u02", "u03", "u04"], second: ["u01"], http: ["u02"] },
      { type: "group", members: ["u05", "u06", "u07", "u01"], second: [], http: ["u06"] },
      { type: "direct", members: ["u03", "u05"], second: ["u05"], http: [] },
    ],
    timing: {
      sendMeanMs: 600,
      httpMeanMs: 700,
      disconnectMeanMs: 5_000,
      cutAfterSend: 0.04,
      httpFallback: 0.02,
      duplicateWhilePending: 0.05,
      duplicateAfterAck: 0.03,
      httpAbandonShare: 0.15,
      readShare: 0.05,
      backoff: { initialMs: 100, maxMs: 2_000 },
      pingMs: 4_000,
    },
    // One restart in the middle of traffic, one idle period long enough to hibernate, then more traffic.
    rounds: [
      { trafficMs: 14_000, restartAtMs: 6_000, idleMs: HIBERNATION_MS + 2_000 },
      { trafficMs: 5_000 },
    ],
    restartSignals: ["SIGINT"],
    minDeliveries: 0,
    maxRounds: 2,
    idleCloseShare: 0.5,
    drainMs: 60_000,
    mirrorDeadlineMs: 60_000,
    tokenSample: 120,
    maxRunMs: 6 * 60_000,
  };
}

function longPlan(minDeliveries) {
  const users = Array.from({ length: 24 }, (_, i) => `u${pad(i + 1, 2)}`);
  const group = (from, size) => users.slice(from, from + size);
  return {
    name: "long",
    conversations: [
      { type: "group", members: group(0, 10), second: ["u01", "u05"], http: ["u02"] },
      { type: "group", members: group(8, 8), second: ["u09"], http: ["u10"] },
      { type: "group", members: group(14, 8), second: ["u15"], http: [] },
      { type: "group", members: [...group(18, 6)], second: ["u20"], http: ["u21"] },
      { type: "group", members: ["u01", "u07", "u12", "u16", "u22", "u24"], second: [], http: [] },
      { type: "group", members: ["u03", "u11", "u17", "u23"], second: ["u11"], http: [] },
      { type: "direct", members: ["u04", "u13"], second: [], http: [] },
      { type: "direct", members: ["u06", "u19"], second: ["u19"], http: [] },
    ],
    timing: {
      sendMeanMs: 450,
      httpMeanMs: 500,
      disconnectMeanMs: 8_000,
      cutAfterSend: 0.01,
      httpFallback: 0.005,
      duplicateWhilePending: 0.03,
      duplicateAfterAck: 0.02,
      httpAbandonShare: 0.1,
      readShare: 0.02,
      backoff: { initialMs: 100, maxMs: 2_000 },
      pingMs: 5_000,
    },
    // Rounds repeat until the deliveries reach the target (at least 3 rounds, so 3 restarts and 3 idles).
    rounds: [{ trafficMs: 40_000, restartAtMs: 18_000, idleMs: HIBERNATION_MS + 3_000 }],
    // Stops alternate between Ctrl-C and a crash (SIGKILL), where nothing shuts down cleanly.
    restartSignals: ["SIGINT", "SIGKILL"],
    minRounds: 3,
    minDeliveries,
    maxRounds: 30,
    idleCloseShare: 0.5,
    drainMs: 180_000,
    mirrorDeadlineMs: 180_000,
    tokenSample: 1_000,
    maxRunMs: 60 * 60_000,
  };
}

export function makePlan({ long, minDeliveries }) {
  return long ? longPlan(minDeliveries) : shortPlan();
}

/** The round to run as number `i` (0-based): the listed ones, then the last one again. */
export function roundAt(plan, i) {
  return plan.rounds[Math.min(i, plan.rounds.length - 1)];
}

const WORDS = [
  "quote", "renewal", "pipeline", "forecast", "call", "demo", "contract", "discount", "follow", "up", "customer",
  "signed", "legal", "review", "budget", "meeting", "tomorrow", "invoice", "pricing", "deal", "lead", "won",
  "线索", "跟进", "見積", "회의", "café", "naïve", "🚀", "👍🏽", "ok",
];

/**
 * A message text: the conversation's tag (every message of the conversation matches a search for it), a
 * token unique in the whole run (exactly one message matches a search for it), and filler. Tokens all
 * have the same shape and start with `tk`, so none is a substring of another.
 */
export function messageText(rng, tag, conversationIndex, n) {
  const token = `tk${pad(conversationIndex, 2)}x${pad(n.toString(36), 6)}`;
  const words = rng.chance(0.02) ? rng.int(150, 500) : rng.int(1, 12);
  const filler = Array.from({ length: words }, () => rng.pick(WORDS)).join(" ");
  // At most 500 words of at most 9 characters: always under the 8,000-character limit.
  return { text: `${tag} ${token} ${filler}`, token };
}

/** The tag of conversation `index` in this run: `cv` + a run id + the index. */
export function conversationTag(runId, index) {
  return `cv${runId}${pad(index, 2)}`;
}
