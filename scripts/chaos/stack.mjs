// The local stack for the chaos run, started the way `npm start` starts it (secrets in .dev.vars, D1
// migrations, `wrangler dev`), but on a port and a state directory of its own, so it can be stopped and
// started again on the same persisted state without touching anyone else's stack.
import { spawn } from "node:child_process";
import { cpSync, createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createECDH, randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { join, resolve } from "node:path";

export const HOST = "127.0.0.1";
// No metrics, and no fetch of the `Request.cf` placeholder from workers.cloudflare.com: the run stays local.
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
const SKIP = new Set(["node_modules", ".git", ".wrangler", ".dev.vars", "bench-results", "coverage"]);
const STOP_GRACE_MS = 8_000;

/**
 * A private copy of the checkout for wrangler dev to serve: wrangler dev restarts the runtime whenever a
 * source file changes, and someone editing the checkout mid-run would then drop every socket. node_modules
 * is linked, not copied. The copy gets its own fresh secrets; the checkout's .dev.vars is left alone.
 */
export function prepareSnapshot(dir) {
  const root = process.cwd();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(root, join(dir, "app"), { recursive: true, filter: (src) => !SKIP.has(src.slice(root.length + 1).split("/")[0]) });
  symlinkSync(resolve(root, "node_modules"), join(dir, "app", "node_modules"));
  const secret = () => randomBytes(32).toString("base64url");
  const vapid = createECDH("prime256v1");
  vapid.generateKeys();
  const vars = {
    ADMIN_TOKEN: secret(),
    TOKEN_SIGNING_KEY: secret(),
    VAPID_PUBLIC_KEY: vapid.getPublicKey().toString("base64url"),
    VAPID_PRIVATE_KEY: vapid.getPrivateKey().toString("base64url"),
    VAPID_SUBJECT: "mailto:chaos@switchboard.invalid",
  };
  writeFileSync(join(dir, "app", ".dev.vars"), Object.entries(vars).map(([k, v]) => `${k}=${v}`).join("\n") + "\n", { mode: 0o600 });
  return { app: join(dir, "app"), state: join(dir, "state"), adminToken: vars.ADMIN_TOKEN };
}

export function portFree(port) {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, HOST, () => server.close(() => done(true)));
  });
}

function readText(path) {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function parentOf(pid) {
  const text = readText(`/proc/${pid}/stat`);
  if (!text) return undefined;
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: rest[0], ppid: Number(rest[1]) };
}

/** Every live descendant of `root`. */
function descendants(root) {
  const children = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = parentOf(Number(name));
    if (!s) continue;
    if (!children.has(s.ppid)) children.set(s.ppid, []);
    children.get(s.ppid).push(Number(name));
  }
  const out = [];
  const queue = [root];
  while (queue.length && out.length < 10_000) {
    for (const child of children.get(queue.shift()) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

function alive(pid) {
  const s = parentOf(pid);
  return s !== undefined && s.state !== "Z" && s.state !== "X";
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * One local stack. start() and stop() may be called again (a restart keeps `state`, the persisted
 * Durable Objects, D1 and queues). Every process it starts is in its own process group and is ended by
 * stop(), also when the run fails.
 */
export class Stack {
  constructor({ app, state, port, inspectorPort, logFile }) {
    this.app = app;
    this.state = state;
    this.port = port;
    this.inspectorPort = inspectorPort;
    this.base = `http://${HOST}:${port}`;
    this.log = createWriteStream(logFile, { flags: "a" });
    this.logFile = logFile;
    this.child = undefined;
    this.tree = new Set();
    this.starts = 0;
    /** Set by shutdown(): no start after that, so a start racing a Ctrl-C cannot leave a stack behind. */
    this.closed = false;
    // wrangler's own entry point, run by this Node (npx would add a process and a second or two per start).
    this.wrangler = join(app, "node_modules", "wrangler", "bin", "wrangler.js");
  }

  /** Apply the D1 migrations to the state directory, as `npm start` does before `wrangler dev`. */
  async migrate(timeoutMs = 180_000) {
    const child = spawn(process.execPath, [this.wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", this.state], {
      cwd: this.app,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    // Tracked like the stack, so Ctrl-C during the migrations ends them too.
    this.child = child;
    this.tree.add(child.pid);
    child.stdout.pipe(this.log, { end: false });
    child.stderr.pipe(this.log, { end: false });
    const timer = setTimeout(() => this.stop("SIGKILL"), timeoutMs);
    const code = await new Promise((resolve) => child.once("exit", (c) => resolve(c)));
    clearTimeout(timer);
    this.child = undefined;
    this.tree.delete(child.pid);
    if (this.closed) throw new Error("the stack is shut down");
    if (code !== 0) throw new Error(`d1 migrations failed (exit ${code}); see ${this.logFile}`);
  }

  /** Start wrangler dev and wait for /health. Returns how long it took (ms). */
  async start(timeoutMs = 180_000) {
    const began = Date.now();
    for (const [port, what] of [[this.port, "stack"], [this.inspectorPort, "inspector"]]) {
      // A port we just released can take a moment to be free again; anyone else's is an error.
      const deadline = Date.now() + (this.starts > 0 ? 15_000 : 0);
      for (let i = 0; !(await portFree(port)); i++) {
        if (Date.now() >= deadline || i >= 100) throw new Error(`${what} port ${port} is in use; pick another with --port`);
        await sleep(250);
      }
    }
    if (this.closed) throw new Error("the stack is shut down");
    this.starts += 1;
    this.log.write(`\n---- start #${this.starts} at ${new Date().toISOString()}\n`);
    const child = spawn(
      process.execPath,
      [
        this.wrangler, "dev",
        "--ip", HOST,
        "--port", String(this.port),
        "--inspector-port", String(this.inspectorPort),
        "--persist-to", this.state,
        "--log-level", "warn",
        "--show-interactive-dev-session=false",
      ],
      { cwd: this.app, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    this.tree.add(child.pid);
    child.stdout.pipe(this.log, { end: false });
    child.stderr.pipe(this.log, { end: false });
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 2_000 && Date.now() < deadline; i++) {
      for (const pid of descendants(child.pid)) this.tree.add(pid);
      if (this.closed) throw new Error("the stack is shut down");
      if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}; see ${this.logFile}`);
      try {
        const res = await fetch(`${this.base}/health`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) {
          for (const pid of descendants(child.pid)) this.tree.add(pid);
          return Date.now() - began;
        }
      } catch {
        // not listening yet
      }
      await sleep(250);
    }
    throw new Error(`${this.base}/health did not answer within ${timeoutMs / 1000} s; see ${this.logFile}`);
  }

  /**
   * Stop everything this stack started: SIGINT to the whole group (what Ctrl-C does), then SIGKILL after a
   * grace period. `signal: "SIGKILL"` is a crash instead: nothing gets to shut down cleanly.
   */
  async stop(signal = "SIGINT") {
    const child = this.child;
    if (!child) return 0;
    const began = Date.now();
    for (const pid of descendants(child.pid)) this.tree.add(pid);
    const tree = [...this.tree];
    const signalAll = (signal) => {
      try {
        process.kill(-child.pid, signal); // the process group we created (detached)
      } catch {
        // already gone
      }
      for (const pid of tree) {
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
      }
    };
    signalAll(signal);
    const deadline = Date.now() + STOP_GRACE_MS;
    for (let i = 0; i < 200 && Date.now() < deadline && tree.some(alive); i++) await sleep(100);
    if (tree.some(alive)) signalAll("SIGKILL");
    const hard = Date.now() + 5_000;
    for (let i = 0; i < 100 && Date.now() < hard && tree.some(alive); i++) await sleep(100);
    this.child = undefined;
    this.tree = new Set(tree.filter(alive));
    return Date.now() - began;
  }

  /** Stop for good: stop() now, and refuse any later start(). */
  shutdown() {
    this.closed = true;
    return this.stop();
  }

  /** Synchronous last resort for process exit handlers: SIGKILL whatever is left. */
  killNow() {
    if (this.child) {
      try {
        process.kill(-this.child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const pid of this.tree) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  close() {
    this.log.end();
  }

  /** The last lines of the stack's log, for a failure report. */
  tail(lines = 30) {
    // eslint-disable-next-line no-control-regex
    return (readText(this.logFile) ?? "").replace(/\x1b\[[0-9;]*m/g, "").trimEnd().split("\n").slice(-lines).join("\n");
  }
}
