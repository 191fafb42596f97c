// The local stack for the chaos run, started the way `npm start` starts it (secrets in .dev.vars, D1
// migrations, `wrangler dev`), but on a port and a state directory of its own, so it can be stopped and
// started again on the same persisted state without touching anyone else's stack.
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { descendants, readText } from "../lib/proc.mjs";
import { HOST, WRANGLER_ENV, copyProject, devVarsText, freshDevVars, killTreeNow, migrationArgs, portFree, stopTree, wranglerDevArgs } from "../lib/stack.mjs";

// No fetch of the `Request.cf` placeholder from workers.cloudflare.com either: the run stays local.
const env = { ...WRANGLER_ENV, CLOUDFLARE_CF_FETCH_ENABLED: "false" };
const STOP_GRACE_MS = 8_000;

/**
 * A private copy of the checkout for wrangler dev to serve (see copyProject): someone editing the checkout
 * mid-run would otherwise restart the runtime and drop every socket. The copy gets its own fresh secrets;
 * the checkout's .dev.vars is left alone.
 */
export function prepareSnapshot(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const app = join(dir, "app");
  copyProject(app);
  const vars = freshDevVars("mailto:chaos@switchboard.invalid");
  writeFileSync(join(app, ".dev.vars"), devVarsText(vars), { mode: 0o600 });
  return { app, state: join(dir, "state"), adminToken: vars.ADMIN_TOKEN };
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

  /** Run wrangler with `args` in its own process group, tracked as this stack's child, its output into the log. */
  spawnWrangler(args) {
    const child = spawn(process.execPath, [this.wrangler, ...args], { cwd: this.app, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.tree.add(child.pid);
    child.stdout.pipe(this.log, { end: false });
    child.stderr.pipe(this.log, { end: false });
    return child;
  }

  /** Apply the D1 migrations to the state directory, as `npm start` does before `wrangler dev`. */
  async migrate(timeoutMs = 180_000) {
    // Tracked like the stack, so Ctrl-C during the migrations ends them too.
    const child = this.spawnWrangler(migrationArgs(this.state));
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
    const child = this.spawnWrangler(wranglerDevArgs({ port: this.port, inspectorPort: this.inspectorPort, persistTo: this.state }));
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
    const left = await stopTree(child.pid, [...this.tree], { signal, graceMs: STOP_GRACE_MS });
    this.child = undefined;
    this.tree = new Set(left);
    return Date.now() - began;
  }

  /** Stop for good: stop() now, and refuse any later start(). */
  shutdown() {
    this.closed = true;
    return this.stop();
  }

  /** Synchronous last resort for process exit handlers: SIGKILL whatever is left. */
  killNow() {
    killTreeNow(this.child?.pid, [...this.tree]);
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
