// The run's clients. A Device is one member's client in one conversation, on the SDK (src/client), kept
// across reconnects and client restarts; an HttpSender posts messages over HTTP and retries them.
import { Delivery } from "./ledger.mjs";
import { connectFor } from "./socket.mjs";
import { messageText } from "./plan.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Bound on the actions one device or sender takes in a run, whatever the timers say. */
const MAX_ACTIONS = 200_000;

export class Device {
  constructor({ base, api, conversation, ledger, userId, deviceId, token, rng, stats, timing, ConversationClient, fault }) {
    this.base = base;
    this.api = api;
    this.conversation = conversation;
    this.ledger = ledger;
    this.userId = userId;
    this.deviceId = deviceId;
    this.token = token;
    // One stream per purpose, so that how many messages arrive (which depends on timing) does not shift
    // the choices of what to send and when to disconnect.
    this.rng = rng;
    this.chaosRng = rng.fork();
    this.readRng = rng.fork();
    this.stats = stats;
    this.timing = timing;
    this.ConversationClient = ConversationClient;
    this.fault = fault;
    this.label = `c${conversation.index}/${userId}/${deviceId}`;
    this.delivery = new Delivery(this.label);
    /** What the SDK handed the application (it drops repeated seqs, so it can only show gaps). */
    this.appDelivery = new Delivery(this.label);
    /** Sends not acknowledged yet, kept across client restarts: clientId -> body. */
    this.outbox = new Map();
    /** Every clientId ever written on a socket by this device, to count re-sends. */
    this.written = new Set();
    this.recentAcked = [];
    this.client = undefined;
    this.socket = undefined;
    this.everOpened = false;
    this.counter = 0;
    this.actions = 0;
    this.injecting = false;
    this.timers = new Set();
    this.traffic = false;
  }

  // ---- client lifecycle ----

  /** Start an SDK client resuming after the last seq this device has, and re-send its outbox. */
  open() {
    // Sockets are tied to the client that dialled them: a stopped client's late socket is never "current".
    const owner = {};
    this.owner = owner;
    const client = new this.ConversationClient({
      baseUrl: this.base,
      token: this.token,
      conversationId: this.conversation.id,
      deviceId: this.deviceId,
      after: this.delivery.maxSeen,
      connect: connectFor(this, owner),
      backoff: this.timing.backoff,
      pingIntervalMs: this.timing.pingMs,
      clientId: () => {
        throw new Error("every send of the run names its clientId");
      },
    });
    this.client = client;
    client.on("message", (message) => this.onAppMessage(client, message));
    client.on("error", (err) => {
      if (client !== this.client) return;
      if (err.fatal) this.stats.violation(`client ended: ${err.code}`, `${this.label}: ${err.message}`);
      else if (err.code !== "rate_limited") this.stats.violation(`client error: ${err.code}`, `${this.label}: ${err.message}`);
    });
    const ready = client.connect();
    for (const [clientId, body] of this.outbox) this.submit(clientId, body);
    return ready;
  }

  /** Stop the SDK client (as an app would when closed); unacknowledged sends stay in the outbox. */
  close() {
    const client = this.client;
    this.client = undefined;
    this.owner = undefined;
    this.socket = undefined;
    client?.close();
  }

  /** An app restart: a new client that resumes with after= and re-sends its outbox with the original clientIds. */
  restartClient() {
    this.stats.clientRestarts += 1;
    this.close();
    void this.open();
  }

  get connected() {
    return Boolean(this.client && this.client.state === "open" && this.socket?.open);
  }

  // ---- sending ----

  sendNew() {
    this.counter += 1;
    const clientId = `${this.deviceId}.${this.counter}`;
    const { text, token } = messageText(this.rng, this.conversation.tag, this.conversation.index, this.ledger.sends.size);
    const body = { text };
    this.ledger.issue({ clientId, sender: this.userId, text, token, via: "ws" });
    this.outbox.set(clientId, body);
    this.stats.sent.ws += 1;
    this.submit(clientId, body);
    // Every draw is made whatever the state, so the stream of choices does not depend on timing.
    const cut = this.rng.chance(this.timing.cutAfterSend);
    const again = this.rng.chance(this.timing.duplicateWhilePending);
    const late = this.rng.chance(this.timing.duplicateAfterAck);
    const pick = this.rng.next();
    const overHttp = this.rng.chance(this.timing.httpFallback);
    // The connection drops just after the frame left: stored or not, the re-send must land exactly once.
    if (cut && this.socket?.open) {
      const socket = this.socket;
      this.stats.disconnects += 1;
      setTimeout(() => socket.cut(), Math.floor(pick * 6));
    }
    // A client that retries on a timer writes the same frame again while the first is unanswered.
    if (again) this.inject(clientId, body);
    // An app that also tries HTTP while its socket is slow: same sender and clientId, so still one message.
    if (overHttp) void this.postToo(clientId, body);
    // A late retry of something already stored: the server must answer with the original seq.
    if (late && this.recentAcked.length) {
      const [oldId, oldBody] = this.recentAcked[Math.floor(pick * this.recentAcked.length)];
      this.inject(oldId, oldBody);
    }
  }

  submit(clientId, body) {
    const client = this.client;
    if (!client) return;
    client.send("text", body, { clientId }).then(
      (ack) => {
        this.ledger.acked(clientId, ack.seq, `sdk ack to ${this.label}`);
        this.outbox.delete(clientId);
        this.recentAcked.push([clientId, body]);
        if (this.recentAcked.length > 50) this.recentAcked.shift();
      },
      (err) => {
        if (err.code === "closed" || client !== this.client) return; // a client restart: the outbox re-sends it
        this.outbox.delete(clientId);
        this.stats.violation(`send rejected: ${err.code}`, `${this.label} ${clientId}: ${err.message}`);
      },
    );
  }

  async postToo(clientId, body) {
    this.stats.resends.http += 1;
    try {
      const res = await this.api.call("POST", `/v1/conversations/${this.conversation.id}/messages`, this.token, { clientId, kind: "text", body });
      if (res.status === 200 || res.status === 201) this.ledger.acked(clientId, res.data.seq, `HTTP copy from ${this.label}`);
      else if (res.status !== 429 && res.status < 500) this.stats.violation(`HTTP send answered ${res.status}`, `${this.label} ${clientId}: ${JSON.stringify(res.data).slice(0, 200)}`);
    } catch {
      // the stack is restarting: the socket send stands
    }
  }

  inject(clientId, body) {
    if (!this.socket) return;
    this.injecting = true;
    try {
      this.socket.inject(JSON.stringify({ type: "send", clientId, kind: "text", body }));
    } finally {
      this.injecting = false;
    }
  }

  // ---- what the sockets report (see socket.mjs) ----

  onOpen(socket) {
    this.stats.sockets += 1;
    if (this.everOpened) this.stats.reconnects += 1;
    this.everOpened = true;
    if (socket.owner === this.owner) this.socket = socket;
  }

  onRefused(status, code) {
    // During a restart the dev proxy may answer before the runtime is up; a refusal that ends the
    // client is reported through the client's fatal error.
    if (status === 401 || status === 403 || status === 404) this.stats.violation(`upgrade refused ${status}`, `${this.label}: ${code ?? ""}`);
  }

  onWrite(data, socket) {
    if (!data.startsWith('{"type":"send"')) return;
    const clientId = JSON.parse(data).clientId;
    if (this.injecting) this.stats.resends.injected += 1;
    else if (this.written.has(clientId)) this.stats.resends.sdk += 1;
    this.written.add(clientId);
    if (socket !== this.socket) this.stats.violation("write on a socket that is not the current one", this.label);
  }

  onErrorFrame(frame) {
    if (frame.code === "rate_limited") this.stats.rateLimited += 1;
    else this.stats.violation(`error frame: ${frame.code}`, `${this.label}: ${frame.message}${frame.clientId ? ` (${frame.clientId})` : ""}`);
  }

  /** A message frame on the live socket: the delivery the checks count. */
  deliver(message) {
    this.stats.deliveries += 1;
    const verdict = this.delivery.accept(message.seq);
    if (verdict === "duplicate") {
      this.stats.duplicated += 1;
      this.stats.violation("duplicated delivery", `${this.label} seq ${message.seq}`);
    } else if (verdict === "reordered") {
      this.stats.reordered += 1;
      this.stats.violation("out-of-order delivery", `${this.label} seq ${message.seq} after ${this.delivery.maxSeen}`);
    }
    this.ledger.observe(message, this.label);
  }

  /** What the SDK hands the application: strictly increasing, never a seq twice. */
  onAppMessage(client, message) {
    if (client !== this.client) return;
    if (this.appDelivery.accept(message.seq) !== "ok") this.stats.violation("SDK emitted a seq again or backwards", `${this.label} seq ${message.seq}`);
    if (this.traffic && this.readRng.chance(this.timing.readShare)) client.markRead(message.seq);
  }

  // ---- chaos schedule ----

  later(ms, fn) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.traffic && this.actions++ < MAX_ACTIONS) fn();
    }, ms);
    this.timers.add(timer);
  }

  startTraffic() {
    this.traffic = true;
    if (this.timing.sendMeanMs > 0) {
      const sendLoop = () => {
        if (this.client) this.sendNew();
        this.later(this.rng.exp(this.timing.sendMeanMs), sendLoop);
      };
      this.later(this.rng.exp(this.timing.sendMeanMs), sendLoop);
    }
    const chaosLoop = () => {
      const roll = this.chaosRng.next();
      if (this.client && this.socket?.open) {
        if (roll < 0.55) this.socket.cut();
        else if (roll < 0.8) this.socket.closeCleanly();
        else this.restartClient();
        this.stats.disconnects += 1;
      }
      this.later(this.chaosRng.exp(this.timing.disconnectMeanMs), chaosLoop);
    };
    this.later(this.chaosRng.exp(this.timing.disconnectMeanMs), chaosLoop);
  }

  stopTraffic() {
    this.traffic = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

/** A member's backend posting over HTTP: it retries each message (same clientId) until it has an answer. */
export class HttpSender {
  constructor({ api, conversation, ledger, userId, token, rng, stats, timing }) {
    Object.assign(this, { api, conversation, ledger, userId, token, rng, stats, timing });
    this.label = `c${conversation.index}/${userId}/http`;
    this.counter = 0;
    this.traffic = false;
    this.loop = Promise.resolve();
    this.actions = 0;
  }

  startTraffic(deadline) {
    this.traffic = true;
    this.loop = (async () => {
      while (this.traffic && this.actions++ < MAX_ACTIONS) {
        await sleep(this.rng.exp(this.timing.httpMeanMs));
        if (!this.traffic) break;
        await this.sendOne(deadline);
      }
    })();
  }

  /** Stop starting new sends; resolves when the one in flight has its answer. */
  stopTraffic() {
    this.traffic = false;
    return this.loop;
  }

  async sendOne(deadline) {
    this.counter += 1;
    const clientId = `http-${this.userId}.${this.counter}`;
    const { text, token } = messageText(this.rng, this.conversation.tag, this.conversation.index, this.ledger.sends.size);
    this.ledger.issue({ clientId, sender: this.userId, text, token, via: "http" });
    this.stats.sent.http += 1;
    const path = `/v1/conversations/${this.conversation.id}/messages`;
    const payload = { clientId, kind: "text", body: { text } };
    // A response lost on the way back: the request is abandoned after a few ms and sent again.
    let abandon = this.rng.chance(this.timing.httpAbandonShare) ? this.rng.int(0, 20) : undefined;
    const repeatLate = this.rng.chance(this.timing.duplicateAfterAck);
    for (let attempt = 1; attempt <= 500 && Date.now() < deadline(); attempt++) {
      if (attempt > 1) this.stats.resends.http += 1;
      try {
        const controller = new AbortController();
        const timer = abandon === undefined ? undefined : setTimeout(() => controller.abort(), abandon);
        abandon = undefined;
        const res = await this.api.call("POST", path, this.token, payload, { signal: controller.signal, timeoutMs: 20_000 });
        clearTimeout(timer);
        if (res.status === 201 || res.status === 200) {
          const entry = this.ledger.sends.get(clientId);
          if (res.status === 201 && ++entry.http201 > 1) {
            this.stats.violation("duplicated: HTTP 201 twice for one clientId", `${this.label} ${clientId}`);
          }
          this.ledger.acked(clientId, res.data.seq, `HTTP ${res.status} to ${this.label}`);
          if (repeatLate) await this.repeat(path, payload, res.data.seq);
          return;
        }
        if (res.status !== 429 && res.status < 500) {
          this.stats.violation(`HTTP send answered ${res.status}`, `${this.label} ${clientId}: ${JSON.stringify(res.data).slice(0, 200)}`);
          return;
        }
        if (res.status === 429) this.stats.rateLimited += 1;
      } catch {
        // the stack is restarting, or the request was abandoned on purpose
      }
      await sleep(Math.min(100 * attempt, 1_000));
    }
  }

  /** A late retry of a stored message: 200 with the original seq. */
  async repeat(path, payload, seq) {
    this.stats.resends.http += 1;
    try {
      const res = await this.api.call("POST", path, this.token, payload);
      if (res.status === 200) this.ledger.acked(payload.clientId, res.data.seq, `HTTP repeat to ${this.label}`);
      else if (res.status === 201) this.stats.violation("duplicated: HTTP 201 twice for one clientId", `${this.label} ${payload.clientId} (first seq ${seq})`);
    } catch {
      // a restart in between; the original answer stands
    }
  }
}
