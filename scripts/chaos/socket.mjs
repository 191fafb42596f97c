// The SDK's `connect` for the chaos run: a `ws` socket wrapped so that every frame the server sends is
// checked before the SDK sees it (the SDK drops repeated seqs silently, so duplicates must be caught
// here), every frame the SDK writes is counted (re-sends), and the socket can be cut abruptly.
import WebSocket from "ws";

let nextSocketId = 1;

/**
 * One raw connection. Implements the SDK's WebSocketLike. Events that arrive before the SDK has attached
 * its listeners are held and handed over in order, so no frame of the replay can slip past unseen.
 */
export class RawSocket {
  constructor(ws, url, device, owner) {
    this.id = nextSocketId++;
    this.ws = ws;
    this.device = device;
    this.owner = owner;
    this.after = Number(new URL(url).searchParams.get("after") ?? "0");
    this.expected = this.after + 1;
    this.ready = false;
    /** Set when the SDK or the run let go of this socket: later frames are no one's deliveries. */
    this.released = false;
    this.listeners = { message: [], close: [], error: [] };
    this.held = { message: [], close: [] };
    ws.on("message", (data, isBinary) => this.onMessage(isBinary ? data : data.toString("utf8")));
    ws.on("close", (code, reason) => this.dispatch("close", { code, reason: reason.toString("utf8") }));
    ws.on("error", () => {
      // A close event follows; the SDK reacts there.
    });
  }

  onMessage(text) {
    if (this.released) return;
    // --fault: break the server's delivery on purpose, to show the checks catch it.
    const fault = this.device.fault;
    if (fault && typeof text === "string" && text.startsWith('{"type":"message"') && fault.strike()) {
      if (fault.kind === "drop") return;
      if (fault.kind === "duplicate") this.pass(text);
      if (fault.kind === "reorder" && !this.heldBack) {
        this.heldBack = text;
        return;
      }
    }
    this.pass(text);
    if (this.heldBack && text !== this.heldBack) {
      const held = this.heldBack;
      this.heldBack = undefined;
      this.pass(held);
    }
  }

  pass(text) {
    if (typeof text === "string") this.inspect(text);
    this.dispatch("message", { data: text });
  }

  /** Check one server frame against the protocol before the SDK sees it. */
  inspect(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      this.device.stats.violation("frame is not JSON", `${this.device.label}: ${text.slice(0, 80)}`);
      return;
    }
    const device = this.device;
    switch (frame.type) {
      case "ready":
        if (this.ready) device.stats.violation("second ready on one socket", device.label);
        this.ready = true;
        return;
      case "message": {
        const seq = frame.message?.seq;
        if (!this.ready) device.stats.violation("message before ready", `${device.label} seq ${seq}`);
        if (seq !== this.expected) {
          device.stats.violation("socket order: seq not the next one", `${device.label} socket ${this.id} (after=${this.after}): expected ${this.expected}, got ${seq}`);
        }
        this.expected = Math.max(this.expected, seq + 1);
        device.deliver(frame.message);
        return;
      }
      case "ack":
        device.ledger.acked(frame.clientId, frame.seq, `ack frame to ${device.label}`);
        return;
      case "error":
        device.onErrorFrame(frame);
        return;
      default:
        return;
    }
  }

  dispatch(type, event) {
    const listeners = this.listeners[type];
    if (listeners.length === 0) {
      this.held[type]?.push(event);
      return;
    }
    for (const listener of listeners) listener(event);
  }

  // ---- WebSocketLike, for the SDK ----

  send(data) {
    if (this.ws.readyState !== WebSocket.OPEN) throw new Error("socket is not open");
    this.device.onWrite(data, this);
    this.ws.send(data);
  }

  close(code, reason) {
    // The SDK replacing a socket that is still open: it heard nothing for a whole ping interval.
    if (!this.released && this.ws.readyState === WebSocket.OPEN && reason === "reconnecting") this.device.stats.silentReplaced += 1;
    this.released = true;
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
  }

  addEventListener(type, listener) {
    this.listeners[type]?.push(listener);
    const held = this.held[type];
    if (held && held.length) {
      this.held[type] = [];
      for (const event of held) listener(event);
    }
  }

  // ---- chaos ----

  /** Cut the connection without a close handshake, as a dropped network would. */
  cut() {
    this.ws.terminate();
  }

  /** Close it cleanly from the client side; the SDK sees a normal close and reconnects. */
  closeCleanly() {
    try {
      this.ws.close(1000, "chaos");
    } catch {
      this.ws.terminate();
    }
  }

  get open() {
    return this.ws.readyState === WebSocket.OPEN && this.ready && !this.released;
  }

  /** Write a frame the SDK did not write (a duplicate re-send); false if the socket is not open. */
  inject(data) {
    if (!this.open) return false;
    try {
      this.send(data);
      return true;
    } catch {
      return false;
    }
  }
}

/** An upgrade the server refused, with its HTTP status (the SDK ends on 400/401/403/404, retries the rest). */
class Refused extends Error {
  constructor(status, code) {
    super(`WebSocket upgrade refused: HTTP ${status}${code ? ` ${code}` : ""}`);
    this.status = status;
    this.code = code;
  }
}

/** The SDK's `connect` option for one device's client (`owner` names that client). */
export function connectFor(device, owner) {
  return (url) =>
    new Promise((resolve, reject) => {
      if (new URL(url).hostname !== "127.0.0.1") return reject(new Error(`refusing to connect to ${url}`));
      const ws = new WebSocket(url, { handshakeTimeout: 15_000, perMessageDeflate: false });
      const socket = new RawSocket(ws, url, device, owner);
      let settled = false;
      ws.once("open", () => {
        settled = true;
        device.onOpen(socket);
        resolve(socket);
      });
      ws.once("unexpected-response", (req, res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          if (body.length < 4096) body += chunk;
        });
        const fail = () => {
          if (settled) return;
          settled = true;
          let code;
          try {
            code = JSON.parse(body)?.error?.code;
          } catch {
            // not the error envelope
          }
          device.onRefused(res.statusCode, code);
          reject(new Refused(res.statusCode, code));
          req.destroy();
        };
        res.on("end", fail);
        res.on("error", fail);
        res.on("close", fail);
      });
      ws.once("error", (err) => {
        if (settled) return;
        settled = true;
        reject(err); // no status: a network failure, which the SDK retries
      });
    });
}
