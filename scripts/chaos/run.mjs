// The chaos run's timeline: seed the tenant, connect every device, then rounds of traffic (with a restart
// of the whole stack in the middle) and idle periods, a drain, and the end-of-run checks.
import { Api, seedTenant } from "./api.mjs";
import { Device, HttpSender } from "./device.mjs";
import { Ledger } from "./ledger.mjs";
import { conversationTag, roundAt } from "./plan.mjs";
import { awaitMirror, checkConversation, checkSearch, objectView, readHistory } from "./verify.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Wait for `ready()` to hold, polling, at most until `deadline`. Returns whether it held. */
async function until(ready, deadline, everyMs = 100) {
  for (let i = 0; i < 1_000_000 && Date.now() < deadline; i++) {
    if (ready()) return true;
    await sleep(everyMs);
  }
  return ready();
}

export class ChaosRun {
  constructor({ plan, rng, stack, adminToken, stats, ConversationClient, log, fault }) {
    Object.assign(this, { plan, rng, stack, adminToken, stats, ConversationClient, log, fault });
    this.api = new Api(stack.base);
    this.devices = [];
    this.senders = [];
    this.ledgers = [];
    this.checks = [];
    this.figures = { trafficMs: 0, idles: [], restarts: [], drainMs: 0, mirrorMs: undefined, searchMs: undefined, rounds: 0 };
  }

  check(name, ok, detail) {
    this.checks.push({ name, ok, detail });
  }

  /** Tenant, users, conversations and one SDK client per member device; resolves when all are connected. */
  async setup() {
    const runId = this.rng.int(0, 36 ** 4 - 1).toString(36).padStart(4, "0");
    const conversations = this.plan.conversations.map((c, i) => ({ ...c, tag: conversationTag(runId, i) }));
    const seeded = await seedTenant(this.api, this.adminToken, { conversations });
    this.tokens = seeded.tokens;
    for (const conversation of seeded.conversations) {
      const spec = this.plan.conversations[conversation.index];
      const ledger = new Ledger(conversation, this.stats);
      this.ledgers.push(ledger);
      const common = { base: this.stack.base, api: this.api, conversation, ledger, stats: this.stats, timing: this.plan.timing, ConversationClient: this.ConversationClient, fault: this.fault };
      for (const userId of conversation.members) {
        const token = this.tokens[userId];
        const ids = [`d-${userId}`, ...(spec.second.includes(userId) ? [`d-${userId}-b`] : [])];
        for (const deviceId of ids) {
          const device = new Device({ ...common, userId, deviceId, token, rng: this.rng.fork() });
          ledger.devices.push(device);
          this.devices.push(device);
        }
        if (spec.http.includes(userId)) {
          this.senders.push(new HttpSender({ api: this.api, conversation, ledger, userId, token, rng: this.rng.fork(), stats: this.stats, timing: this.plan.timing }));
        }
      }
    }
    const ready = Promise.all(this.devices.map((d) => d.open()));
    const connected = await Promise.race([ready.then(() => true, () => false), sleep(90_000).then(() => false)]);
    this.check(`all ${this.devices.length} devices in ${this.ledgers.length} conversations connect`, connected, connected ? "" : `${this.devices.filter((d) => !d.connected).length} not connected`);
    if (!connected) throw new Error("devices did not connect");
  }

  deadline() {
    return this.endBy;
  }

  /** All rounds of the plan: traffic (with a restart of the stack in the middle), then an idle period. */
  async rounds(runDeadline) {
    this.endBy = runDeadline;
    const long = this.plan.name === "long";
    for (let i = 0; i < this.plan.maxRounds; i++) {
      const round = roundAt(this.plan, i);
      await this.traffic(round);
      if (round.idleMs) await this.idle(round.idleMs);
      this.figures.rounds = i + 1;
      const st = this.stats;
      this.log(`round ${i + 1}: so far ${st.deliveries.toLocaleString("en-US")} deliveries, ${st.reconnects} reconnects, ${st.silentReplaced} silent sockets replaced, ${st.resends.sdk} SDK re-sends`);
      if (!long && i + 1 >= this.plan.rounds.length) break;
      if (long && i + 1 >= this.plan.minRounds && this.stats.deliveries >= this.plan.minDeliveries) break;
      if (long && Date.now() > runDeadline - 5 * 60_000) {
        this.log("stopping early: the run's time bound is near");
        break;
      }
    }
  }

  async traffic(round) {
    const began = Date.now();
    const deadline = () => this.endBy;
    for (const d of this.devices) d.startTraffic();
    for (const s of this.senders) s.startTraffic(deadline);
    // Settles with the restart's error (if any), so a failed restart is raised here, never unhandled.
    const restart = round.restartAtMs === undefined ? Promise.resolve() : sleep(round.restartAtMs).then(() => this.restart()).then(() => undefined, (err) => err);
    await sleep(round.trafficMs);
    for (const d of this.devices) d.stopTraffic();
    const failed = await restart;
    if (failed) throw failed;
    await Promise.all(this.senders.map((s) => s.stopTraffic()));
    this.figures.trafficMs += Date.now() - began;
  }

  /** Stop and start `wrangler dev` on the same persisted state while the clients keep going. */
  async restart() {
    const began = Date.now();
    const signals = this.plan.restartSignals;
    const signal = signals[this.stats.restarts % signals.length];
    this.log(`restarting the stack (${signal === "SIGKILL" ? "killed: a crash" : "stopped with Ctrl-C"})`);
    const stopMs = await this.stack.stop(signal);
    const startMs = await this.stack.start();
    this.stats.restarts += 1;
    const downMs = Date.now() - began;
    this.figures.restarts.push({ stopMs, startMs, downMs, signal });
    this.log(`stack back after ${(downMs / 1000).toFixed(1)} s (stop ${stopMs} ms, start ${startMs} ms)`);
  }

  /** Every send acknowledged and every device caught up with everything acknowledged so far. */
  settled() {
    for (const l of this.ledgers) {
      const target = l.maxSeq;
      for (const d of l.devices) if (d.outbox.size || !d.delivery.complete(target)) return false;
      if (l.unacked().length) return false;
    }
    return true;
  }

  /**
   * Nothing sent for `ms`: long enough for the runtime to hibernate the objects. First everything in
   * flight settles; then a share of the devices disconnects (their objects see the close) and the rest
   * stay connected through the idle period; afterwards the closed ones resume with after=.
   */
  async idle(ms) {
    const settling = Date.now();
    const settled = await until(() => this.settled(), Date.now() + 60_000);
    this.log(settled ? `settled ${((Date.now() - settling) / 1000).toFixed(1)} s after the traffic stopped` : "idle: not everything settled within 60 s; idling anyway");
    const closed = this.devices.filter(() => this.rng.chance(this.plan.idleCloseShare));
    for (const d of closed) d.close();
    const began = Date.now();
    this.log(`idle ${(ms / 1000).toFixed(0)} s (${closed.length} of ${this.devices.length} devices disconnected)`);
    await sleep(ms);
    this.figures.idles.push(Date.now() - began);
    await Promise.race([Promise.all(closed.map((d) => d.open())), sleep(60_000)]);
  }

  /** No new sends; wait until everything is acknowledged and delivered everywhere. */
  async drain() {
    const began = Date.now();
    for (const d of this.devices) d.stopTraffic();
    await Promise.all(this.senders.map((s) => s.stopTraffic()));
    const done = await until(() => this.settled(), Date.now() + this.plan.drainMs);
    this.figures.drainMs = Date.now() - began;
    this.check("every send acknowledged and delivered to every device within the drain deadline", done, `${(this.figures.drainMs / 1000).toFixed(1)} s`);
  }

  /** The end-of-run checks. */
  async verify(rng) {
    const expected = [];
    // Read cursors: every device reads to the end, then the objects must show it.
    for (const l of this.ledgers) {
      const target = l.maxSeq;
      for (const d of l.devices) d.client?.markRead(target);
    }
    const readsBy = Date.now() + 30_000;
    for (const l of this.ledgers) {
      const owner = this.tokens[l.conversation.members[0]];
      const view = await objectView(this.api, l.conversation, owner);
      const readSeq = {};
      for (const userId of l.conversation.members) {
        for (let i = 0; i < 300 && Date.now() < readsBy; i++) {
          readSeq[userId] = (await objectView(this.api, l.conversation, this.tokens[userId])).readSeq;
          if (readSeq[userId] >= view.lastSeq) break;
          await sleep(100);
        }
      }
      const history = await readHistory(this.api, l.conversation, owner, view.lastSeq);
      const last = history.at(-1) ?? { seq: undefined, clientId: undefined };
      expected.push({ conversation: l.conversation, ledger: l, lastSeq: view.lastSeq, readSeq, history, last });
      const reads = l.conversation.members.filter((u) => readSeq[u] !== view.lastSeq);
      this.check(`c${l.conversation.index}: every member's read cursor reached lastSeq in the object`, reads.length === 0, reads.length ? `behind: ${reads.join(", ")}` : "");
    }
    const since = Date.now();
    for (const d of this.devices) d.close();

    let lost = 0;
    for (const e of expected) {
      const result = checkConversation({ ledger: e.ledger, history: e.history, lastSeq: e.lastSeq, devices: e.ledger.devices });
      this.checks.push(...result.checks);
      lost += result.lost;
    }
    this.stats.lost = lost;

    const mirrorDeadline = since + this.plan.mirrorDeadlineMs;
    const mirror = await awaitMirror({ api: this.api, expected, tokens: this.tokens, deadline: mirrorDeadline });
    this.figures.mirrorMs = mirror.agreed ? mirror.ms : undefined;
    this.check(
      "D1 mirror (every member's conversation list: lastSeq, lastMessage, readSeq, unread) agrees with the objects",
      mirror.agreed,
      mirror.agreed ? `caught up in ${mirror.ms} ms` : `after ${mirror.ms} ms: ${mirror.disagreements.slice(0, 4).join("; ")}`,
    );
    const searchStart = Date.now();
    const search = await checkSearch({ api: this.api, expected, tokens: this.tokens, deadline: mirrorDeadline, sample: this.plan.tokenSample, rng });
    this.figures.searchMs = search.agreed ? searchStart - since + search.ms : undefined;
    this.checks.push(...search.checks);
    this.figures.messages = expected.reduce((n, e) => n + e.history.length, 0);
  }
}
