// The end-of-run checks: the conversation objects (history over the API) against what was sent and what
// every device saw, then the D1 mirror (conversation lists) and search against the objects.
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const HISTORY_PAGE = 200;
const SEARCH_PAGE = 50;

const enc = encodeURIComponent;
const list = (items, n = 5) => items.slice(0, n).join(", ") + (items.length > n ? `, … (${items.length} in all)` : "");

/** The authoritative state of a conversation, from its object, as `token` sees it. */
export async function objectView(api, conversation, token) {
  return api.must("GET", `/v1/conversations/${conversation.id}`, token, undefined, { ok: [200] });
}

/** Every message of the conversation, paged with after=, bounded by the expected count. */
export async function readHistory(api, conversation, token, lastSeq) {
  const messages = [];
  let after = 0;
  const maxPages = Math.ceil(lastSeq / HISTORY_PAGE) + 5;
  for (let page = 0; page < maxPages; page++) {
    const { messages: batch } = await api.must("GET", `/v1/conversations/${conversation.id}/messages?after=${after}&limit=${HISTORY_PAGE}`, token, undefined, { ok: [200] });
    if (batch.length === 0) break;
    messages.push(...batch);
    after = batch.at(-1).seq;
  }
  return messages;
}

/** Checks of one conversation's log against the ledger and the devices. Returns [{name, ok, detail}]. */
export function checkConversation({ ledger, history, lastSeq, devices }) {
  const c = `c${ledger.conversation.index} (${ledger.conversation.type}, ${ledger.conversation.members.length} members)`;
  const checks = [];
  const check = (name, ok, detail) => checks.push({ name: `${c}: ${name}`, ok, detail });

  const unacked = ledger.unacked();
  check("every send was acknowledged", unacked.length === 0, unacked.length ? `${unacked.length} never acknowledged: ${list(unacked.map((e) => e.clientId))}` : `${ledger.sends.size} sends`);

  const seqs = history.map((m) => m.seq);
  const gaps = [];
  for (let i = 0; i < seqs.length; i++) if (seqs[i] !== i + 1) gaps.push(`position ${i + 1} holds seq ${seqs[i]}`);
  check("history is seq 1..lastSeq without gaps", gaps.length === 0 && seqs.length === lastSeq, gaps.length ? list(gaps) : `${seqs.length} messages, lastSeq ${lastSeq}`);

  const problems = [];
  const seen = new Map();
  for (const m of history) {
    ledger.observe(m, "history");
    if (seen.has(m.clientId)) problems.push(`${m.clientId} stored at seq ${seen.get(m.clientId)} and ${m.seq}`);
    seen.set(m.clientId, m.seq);
    const entry = ledger.sends.get(m.clientId);
    if (!entry) problems.push(`seq ${m.seq} (${m.clientId}) was never sent`);
    else if (entry.text !== m.body?.text || entry.sender !== m.sender) problems.push(`seq ${m.seq} differs from what was sent`);
  }
  let acked = 0;
  for (const entry of ledger.sends.values()) {
    if (entry.seq === undefined) continue;
    acked += 1;
    if (seen.get(entry.clientId) !== entry.seq) problems.push(`${entry.clientId} acked as seq ${entry.seq}, history has ${seen.get(entry.clientId) ?? "nothing"}`);
  }
  check("history holds every acknowledged message once, at its acked seq, as sent", problems.length === 0, problems.length ? list(problems) : `${acked} acknowledged, ${history.length} stored`);

  const broken = [];
  let lost = 0;
  let duplicated = 0;
  let reordered = 0;
  let delivered = 0;
  for (const d of devices) {
    // Lost: never arrived on a socket, or arrived but never reached the application.
    const missing = [...new Set([...d.delivery.missing(lastSeq), ...d.appDelivery.missing(lastSeq)])].sort((a, b) => a - b);
    const beyond = d.delivery.maxSeen > lastSeq;
    lost += missing.length;
    duplicated += d.delivery.duplicates;
    reordered += d.delivery.reordered;
    delivered += d.delivery.total;
    if (missing.length || d.delivery.duplicates || d.delivery.reordered || beyond) {
      broken.push(`${d.label}: ${missing.length} lost (${list(missing.map(String), 3)}), ${d.delivery.duplicates} duplicated, ${d.delivery.reordered} out of order${beyond ? `, saw seq ${d.delivery.maxSeen} > lastSeq` : ""}`);
    }
  }
  check(
    `each of ${devices.length} devices saw every message exactly once, in seq order`,
    broken.length === 0,
    broken.length ? `${lost} lost, ${duplicated} duplicated, ${reordered} out of order; ${list(broken, 4)}` : `${delivered} deliveries`,
  );
  return { checks, lost, duplicated, reordered };
}

/**
 * Poll each member's conversation list (the D1 mirror) until it agrees with the objects: lastSeq,
 * lastMessage, and read cursors. Returns {agreed, ms, disagreements}.
 */
export async function awaitMirror({ api, expected, tokens, deadline }) {
  const began = Date.now();
  const members = [...new Set(expected.flatMap((e) => e.conversation.members))];
  let disagreements = [];
  for (let round = 0; round < 100_000 && Date.now() < deadline; round++) {
    disagreements = [];
    for (const userId of members) {
      const { conversations } = await api.must("GET", "/v1/conversations?limit=500", tokens[userId], undefined, { ok: [200] });
      const byId = new Map(conversations.map((c) => [c.id, c]));
      for (const e of expected) {
        if (!e.conversation.members.includes(userId)) continue;
        const entry = byId.get(e.conversation.id);
        const where = `c${e.conversation.index} for ${userId}`;
        if (!entry) disagreements.push(`${where}: missing from the list`);
        else if (entry.lastSeq !== e.lastSeq) disagreements.push(`${where}: lastSeq ${entry.lastSeq}, object ${e.lastSeq}`);
        else if (entry.lastMessage?.seq !== e.last.seq || entry.lastMessage?.clientId !== e.last.clientId) {
          disagreements.push(`${where}: lastMessage seq ${entry.lastMessage?.seq}, object ${e.last.seq}`);
        } else if (entry.readSeq !== e.readSeq[userId] || entry.unread !== e.lastSeq - e.readSeq[userId]) {
          disagreements.push(`${where}: readSeq ${entry.readSeq}/unread ${entry.unread}, object readSeq ${e.readSeq[userId]}`);
        }
      }
    }
    if (disagreements.length === 0) return { agreed: true, ms: Date.now() - began, disagreements };
    await sleep(250);
  }
  return { agreed: false, ms: Date.now() - began, disagreements };
}

/** Every hit of `q` in one conversation, all pages (bounded by the expected count). */
async function searchAll(api, token, conversation, q, expectedCount) {
  const hits = [];
  let cursor;
  const maxPages = Math.ceil(expectedCount / SEARCH_PAGE) + 5;
  for (let page = 0; page < maxPages; page++) {
    const path = `/v1/search/messages?q=${enc(q)}&conversationId=${conversation.id}&limit=${SEARCH_PAGE}${cursor ? `&cursor=${enc(cursor)}` : ""}`;
    const res = await api.must("GET", path, token, undefined, { ok: [200] });
    hits.push(...res.hits);
    if (!res.nextCursor) return { hits, complete: true };
    cursor = res.nextCursor;
  }
  return { hits, complete: false };
}

/** Compare the hits for a conversation's tag with its history: every message once, nothing else. */
function compareTagHits(hits, history) {
  const want = new Map(history.map((m) => [m.seq, m.clientId]));
  const got = new Map();
  const problems = [];
  for (const h of hits) {
    const seq = h.message?.seq;
    if (got.has(seq)) problems.push(`seq ${seq} found twice`);
    got.set(seq, h.message?.clientId);
    if (!want.has(seq)) problems.push(`seq ${seq} found but not in history`);
    else if (want.get(seq) !== h.message?.clientId) problems.push(`seq ${seq} found as ${h.message?.clientId}, history has ${want.get(seq)}`);
  }
  const missing = [...want.keys()].filter((s) => !got.has(s));
  if (missing.length) problems.push(`${missing.length} not found: seq ${list(missing.map(String))}`);
  return problems;
}

/**
 * Poll search until each conversation's newest message is found (the catch-up time), then until a search
 * for each conversation's tag returns exactly its history, then search a sample of the unique tokens.
 * Returns {checks, ms (the catch-up time), agreed}.
 */
export async function checkSearch({ api, expected, tokens, deadline, sample, rng }) {
  const began = Date.now();
  const checks = [];
  // Catch-up: the newest message of each conversation becomes findable by its token (cheap to poll).
  let waiting = expected.filter((e) => e.history.length);
  for (let round = 0; round < 100_000 && waiting.length && Date.now() < deadline; round++) {
    const still = [];
    for (const e of waiting) {
      const m = e.history.at(-1);
      const token = e.ledger.sends.get(m.clientId)?.token ?? "";
      const res = await api.must("GET", `/v1/search/messages?q=${enc(token)}&conversationId=${e.conversation.id}&limit=5`, tokens[e.conversation.members[0]], undefined, { ok: [200] });
      if (!res.hits.some((h) => h.message.seq === m.seq)) still.push(e);
    }
    waiting = still;
    if (waiting.length) await sleep(100);
  }
  const ms = Date.now() - began;
  let pending = expected;
  let last = new Map();
  for (let round = 0; round < 100_000 && pending.length && Date.now() < deadline; round++) {
    const still = [];
    for (const e of pending) {
      const owner = tokens[e.conversation.members[0]];
      const { hits, complete } = await searchAll(api, owner, e.conversation, e.conversation.tag, e.history.length);
      const problems = compareTagHits(hits, e.history);
      if (!complete) problems.push("more pages than messages");
      last.set(e, problems);
      if (problems.length) still.push(e);
    }
    pending = still;
    if (pending.length) await sleep(500);
  }
  const agreed = waiting.length === 0 && pending.length === 0;
  for (const e of expected) {
    const problems = last.get(e) ?? ["not searched before the deadline"];
    checks.push({ name: `c${e.conversation.index}: search for the conversation's tag finds every message once, nothing else`, ok: problems.length === 0, detail: problems.length ? list(problems, 3) : `${e.history.length} hits` });
  }

  // Unique tokens: each finds exactly its own message.
  const all = expected.flatMap((e) => e.history.map((m) => ({ e, m })));
  const picked = [];
  for (let i = 0; i < Math.min(sample, all.length) && all.length; i++) picked.push(all[rng.int(0, all.length - 1)]);
  const problems = [];
  const queue = [...picked];
  const worker = async () => {
    for (let i = 0; i < 100_000 && queue.length; i++) {
      const { e, m } = queue.shift();
      const token = e.ledger.sends.get(m.clientId)?.token;
      if (!token) {
        problems.push(`seq ${m.seq} of c${e.conversation.index} has no token`);
        continue;
      }
      const path = `/v1/search/messages?q=${enc(token)}&conversationId=${e.conversation.id}&limit=5`;
      const res = await api.must("GET", path, tokens[e.conversation.members[0]], undefined, { ok: [200] });
      if (res.hits.length !== 1 || res.hits[0].message.seq !== m.seq) {
        problems.push(`c${e.conversation.index} ${token}: ${res.hits.length} hits (${res.hits.map((h) => h.message.seq).join(",")}), want seq ${m.seq}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  checks.push({ name: `search for ${picked.length} unique message tokens finds exactly that message`, ok: problems.length === 0, detail: problems.length ? list(problems, 3) : `${picked.length} tokens` });
  return { checks, ms, agreed };
}
