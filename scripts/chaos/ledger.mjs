// What the chaos run knows it sent and what each device saw: the ground truth the final checks compare
// the server's history, the D1 mirror and search against.

/** Counters over the whole run, and the first few examples of each kind of violation. */
export class Stats {
  constructor() {
    this.deliveries = 0;
    /** Counted by the end-of-run checks; undefined when the run did not get that far. */
    this.lost = undefined;
    this.duplicated = 0;
    this.reordered = 0;
    this.sockets = 0;
    this.reconnects = 0;
    this.disconnects = 0;
    /** Open sockets the SDK gave up on because nothing arrived for a whole ping interval. */
    this.silentReplaced = 0;
    this.clientRestarts = 0;
    this.restarts = 0;
    this.resends = { sdk: 0, injected: 0, afterRestart: 0, http: 0 };
    this.sent = { ws: 0, http: 0 };
    this.rateLimited = 0;
    this.violations = new Map();
  }

  /** Record a broken rule. Keeps counts for all and details for the first 10 of each kind. */
  violation(kind, detail) {
    let v = this.violations.get(kind);
    if (!v) this.violations.set(kind, (v = { count: 0, examples: [] }));
    v.count += 1;
    if (v.examples.length < 10) v.examples.push(detail);
  }

  violationCount(prefix) {
    let n = 0;
    for (const [kind, v] of this.violations) if (kind.startsWith(prefix)) n += v.count;
    return n;
  }
}

/**
 * What one device (one member's client in one conversation, across reconnects and client restarts) was
 * delivered. One byte per seq: how many times it arrived (saturating at 255).
 */
export class Delivery {
  constructor(label) {
    this.label = label;
    this.counts = new Uint8Array(1024);
    this.maxSeen = 0;
    this.total = 0;
    this.duplicates = 0;
    this.reordered = 0;
  }

  /** A message frame arrived on this device's live socket. Returns "ok", "duplicate" or "reordered". */
  accept(seq) {
    if (seq >= this.counts.length) {
      const grown = new Uint8Array(Math.max(seq + 1, this.counts.length * 2));
      grown.set(this.counts);
      this.counts = grown;
    }
    const before = this.counts[seq];
    if (before < 255) this.counts[seq] = before + 1;
    this.total += 1;
    const verdict = before > 0 ? "duplicate" : seq < this.maxSeen ? "reordered" : "ok";
    if (verdict === "duplicate") this.duplicates += 1;
    if (verdict === "reordered") this.reordered += 1;
    if (seq > this.maxSeen) this.maxSeen = seq;
    return verdict;
  }

  /** Seqs in 1..lastSeq this device never received. */
  missing(lastSeq) {
    const out = [];
    for (let s = 1; s <= lastSeq; s++) if (s >= this.counts.length || this.counts[s] === 0) out.push(s);
    return out;
  }

  /** Messages received more than once, or received past the end of the log. */
  extras(lastSeq) {
    let n = 0;
    for (let s = 1; s < this.counts.length; s++) if (this.counts[s] > 1 || (s > lastSeq && this.counts[s] > 0)) n += 1;
    return n;
  }

  /** True when every seq 1..lastSeq arrived (possibly more than once). */
  complete(lastSeq) {
    if (this.maxSeen < lastSeq) return false;
    for (let s = 1; s <= lastSeq; s++) if (this.counts[s] === 0) return false;
    return true;
  }
}

/** One conversation: every send made into it and every seq the server bound to a clientId. */
export class Ledger {
  constructor(conversation, stats) {
    this.conversation = conversation;
    this.stats = stats;
    /** clientId -> {clientId, sender, text, token, via, seq?, http201: number} */
    this.sends = new Map();
    /** seq -> clientId, as acks and message frames showed it. */
    this.bySeq = new Map();
    this.maxSeq = 0;
    this.devices = [];
  }

  issue(entry) {
    this.sends.set(entry.clientId, { ...entry, seq: undefined, http201: 0 });
  }

  /** A seq the server gave this clientId (an ack frame, an SDK ack, or an HTTP answer). */
  acked(clientId, seq, source) {
    const entry = this.sends.get(clientId);
    if (!entry) return this.stats.violation("ack for a clientId never sent", `${this.conversation.id} ${clientId} seq ${seq} (${source})`);
    if (entry.seq === undefined) entry.seq = seq;
    else if (entry.seq !== seq) {
      this.stats.violation("duplicated: one clientId stored under two seqs", `${this.conversation.id} ${clientId}: seq ${entry.seq} and ${seq} (${source})`);
    }
    this.bind(seq, clientId, source);
  }

  /** A message frame or history row: the seq must always name the same clientId, sender and text. */
  observe(message, source) {
    if (message.conversationId !== this.conversation.id) {
      this.stats.violation("message of another conversation", `${source}: got ${message.conversationId} in ${this.conversation.id}`);
      return;
    }
    this.bind(message.seq, message.clientId, source);
    const entry = this.sends.get(message.clientId);
    if (!entry) return this.stats.violation("message never sent by the run", `${this.conversation.id} seq ${message.seq} clientId ${message.clientId} (${source})`);
    if (message.sender !== entry.sender || message.body?.text !== entry.text) {
      this.stats.violation("message content differs from what was sent", `${this.conversation.id} seq ${message.seq} ${message.clientId} (${source})`);
    }
    if (entry.seq === undefined) entry.seq = message.seq;
    else if (entry.seq !== message.seq) {
      this.stats.violation("duplicated: one clientId stored under two seqs", `${this.conversation.id} ${message.clientId}: seq ${entry.seq} and ${message.seq} (${source})`);
    }
  }

  bind(seq, clientId, source) {
    const known = this.bySeq.get(seq);
    if (seq > this.maxSeq) this.maxSeq = seq;
    if (known === undefined) this.bySeq.set(seq, clientId);
    else if (known !== clientId) {
      this.stats.violation("one seq carries two messages", `${this.conversation.id} seq ${seq}: ${known} and ${clientId} (${source})`);
    }
  }

  unacked() {
    return [...this.sends.values()].filter((e) => e.seq === undefined);
  }

}
