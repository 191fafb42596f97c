#!/usr/bin/env node
// A tiny terminal chat on the client SDK:  npm run chat -- <user> [conversationId]
// Reads .wrangler/demo.json (written by `npm start`; SWITCHBOARD_DEMO=path overrides it), connects as
// <user> (alice, bob or carol) to the conversation (default: the demo's "Sales team" group), prints
// every message as `[seq] sender: …` in words and sends every line you type. It also opens the user's
// device channel, as an app would: the user is online while it runs (so gets no pushes) and it prints
// news from their other conversations and presence changes. Ctrl-D (or Ctrl-C) exits.
import { readFileSync } from "node:fs";
import { clearLine, createInterface, cursorTo } from "node:readline";

if (!process.features.typescript) {
  console.error(`chat needs Node 24+ (it loads the TypeScript SDK directly); this is Node ${process.versions.node}. Use: npm run chat -- <user> [conversationId]`);
  process.exit(1);
}
const { ConversationClient } = await import("../src/client/index.ts");
const { renderDeviceFrame, renderMessage } = await import("./chat-render.mjs");

const HISTORY = 20;
const [user, conversationArg] = process.argv.slice(2);
const demoPath = process.env.SWITCHBOARD_DEMO ?? new URL("../.wrangler/demo.json", import.meta.url);

let demo;
try {
  demo = JSON.parse(readFileSync(demoPath, "utf8"));
} catch (err) {
  console.error(`cannot read ${demoPath}: ${err.message}\nRun \`npm start\` first: it writes the demo tenant's details there.`);
  process.exit(1);
}
if (!user || !demo.tokens?.[user]) {
  console.error(`usage: npm run chat -- <user> [conversationId]\n  users: ${Object.keys(demo.tokens ?? {}).join(", ")}\n  default conversation: ${demo.groupId} (Sales team); alice<->bob direct: ${demo.directId}`);
  process.exit(2);
}
const token = demo.tokens[user];
const conversationId = conversationArg ?? demo.groupId;

// Where to start: the last few messages of the conversation, then live traffic.
let conversation;
try {
  const res = await fetch(`${demo.base}/v1/conversations/${encodeURIComponent(conversationId)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    console.error(`${user} cannot open ${conversationId}: HTTP ${res.status} ${body?.error?.message ?? ""}`);
    process.exit(1);
  }
  conversation = body;
} catch (err) {
  console.error(`cannot reach ${demo.base} (${err.cause?.code ?? err.message}). Is \`npm start\` running?`);
  process.exit(1);
}

const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: tty });
const basePrompt = `${user}> `;
rl.setPrompt(basePrompt);
let inputClosed = false;
/** Show the prompt (terminals only; piped input gets none). */
function prompt(preserveCursor = false) {
  if (tty && !inputClosed) rl.prompt(preserveCursor);
}

/** Print a line above the prompt without mangling what the user is typing. */
function print(line) {
  if (!tty) return void console.log(line);
  clearLine(process.stdout, 0);
  cursorTo(process.stdout, 0);
  process.stdout.write(`${line}\n`);
  prompt(true);
}

const client = new ConversationClient({
  baseUrl: demo.base,
  token,
  conversationId,
  deviceId: `chat-${user}`,
  after: Math.max(0, (conversation.lastSeq ?? 0) - HISTORY),
});

let everConnected = false;
let readTimer;
client.on("message", (message) => {
  print(renderMessage(message));
  clearTimeout(readTimer);
  readTimer = setTimeout(() => client.markRead(client.lastSeq), 300);
});
const typingTimers = new Map();
client.on("typing", ({ userId }) => {
  if (!tty) return;
  rl.setPrompt(`(${userId} is typing…) ${basePrompt}`);
  prompt(true);
  clearTimeout(typingTimers.get(userId));
  typingTimers.set(userId, setTimeout(() => {
    rl.setPrompt(basePrompt);
    prompt(true);
  }, 3_000));
});
client.on("hidden", ({ seq }) => print(`* [${seq}] deleted for you`));
client.on("ready", ({ lastSeq }) => {
  if (!everConnected) {
    const name = conversation.name ?? conversation.members?.filter((m) => m !== user).join(", ");
    print(`* ${user} in "${name}" (${conversationId}), ${lastSeq} messages. Type to send; Ctrl-D to quit.`);
  } else {
    print("* reconnected");
  }
  everConnected = true;
});
client.on("state", (state) => {
  if (state === "connecting" && everConnected) print("* connection lost; reconnecting…");
});
client.on("error", (err) => {
  // A removed member first gets a forbidden frame, then the close that ends the client: say it once.
  if (!err.fatal && err.code === "forbidden" && err.clientId === undefined) return;
  print(`* ${err.fatal ? "disconnected" : "error"}: ${err.code}: ${err.message}`);
  if (err.fatal) {
    process.exitCode = 1;
    rl.close();
  }
});

const inFlight = new Set();
let lastAcked = 0;
rl.on("line", (line) => {
  const text = line.trim();
  if (tty) {
    // Replace the echoed input with the message as stored, printed when it comes back with its seq.
    process.stdout.write("\x1b[1A");
    clearLine(process.stdout, 0);
  }
  if (text) {
    const sent = client.send("text", { text }).then((ack) => {
      lastAcked = Math.max(lastAcked, ack.seq);
    }, (err) => {
      if (err.code !== "closed") print(`* not sent (${err.code}: ${err.message}): ${text}`);
    });
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
  }
  prompt();
});
if (tty) process.stdin.on("keypress", (_char, key) => {
  if (key && key.name !== "return" && key.name !== "enter") client.typing();
});
rl.on("SIGINT", () => rl.close());
rl.on("close", async () => {
  inputClosed = true;
  // Give unacknowledged lines a moment to reach the server (and come back with their seq), then leave.
  if (!client.error) {
    const deadline = Date.now() + 5_000;
    await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => setTimeout(r, 5_000))]);
    while (client.lastSeq < lastAcked && client.state === "open" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
  client.close();
  device?.close(1000, "bye");
  if (tty) process.stdout.write("\n");
  process.exit();
});

/** The device channel (`/v1/ws`): online while open; notify frames for other conversations, presence. */
const deviceId = `chat-${user}`;
const names = new Map();
let device;
let deviceRetry = 0;
async function conversationNames() {
  try {
    const res = await fetch(`${demo.base}/v1/conversations`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) return;
    for (const c of (await res.json()).conversations ?? []) {
      names.set(c.id, c.name ?? `direct with ${(c.members ?? []).filter((m) => m !== user).join(", ")}`);
    }
  } catch {
    // names are a nicety: ids are printed instead
  }
}
function openDeviceChannel() {
  if (inputClosed) return;
  const url = `${demo.base.replace(/^http/, "ws")}/v1/ws?token=${encodeURIComponent(token)}&device=${encodeURIComponent(deviceId)}`;
  device = new WebSocket(url);
  device.addEventListener("open", () => (deviceRetry = 0));
  device.addEventListener("message", async (event) => {
    let frame;
    try {
      frame = JSON.parse(String(event.data));
    } catch {
      return;
    }
    // This conversation's messages already arrive on its own socket.
    if (frame.type === "notify" && frame.conversationId === conversationId) return;
    if (frame.type === "notify" && !names.has(frame.conversationId)) await conversationNames();
    const line = renderDeviceFrame(frame, names);
    if (line) print(line);
  });
  device.addEventListener("close", (event) => {
    // 4410: this device was deleted; anything else (restart, network) is retried with backoff.
    if (inputClosed || event.code === 4410) return;
    const delay = Math.min(30_000, 500 * 2 ** deviceRetry++);
    setTimeout(openDeviceChannel, delay);
  });
  device.addEventListener("error", () => {});
}

try {
  await client.connect();
  await conversationNames();
  openDeviceChannel();
  prompt();
} catch (err) {
  if (err.code !== "closed") {
    console.error(`cannot connect: ${err.code}: ${err.message}`);
    process.exit(1);
  }
}
