// The local edge stack for the benchmark: secrets, D1 migrations and `wrangler dev` on a port of our own,
// with state in a directory of our own, so a stack someone else runs in this checkout is left alone.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, cpSync, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { createServer } from "node:net";
import { alive, descendants, listeningPorts, workerdPids } from "./proc.mjs";

const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };

/** Same approach as scripts/start.mjs: reuse .dev.vars, or write fresh local secrets. */
export function ensureDevVars() {
  if (!existsSync(".dev.vars")) {
    const secret = () => randomBytes(32).toString("base64url");
    const vars = { ADMIN_TOKEN: secret(), TOKEN_SIGNING_KEY: secret() };
    writeFileSync(
      ".dev.vars",
      `# Generated for local development only. Never commit this file.\n` +
        Object.entries(vars).map(([k, v]) => `${k}=${v}`).join("\n") +
        "\n",
      { mode: 0o600 },
    );
    console.log("wrote .dev.vars with fresh secrets");
  }
  const vars = {};
  for (const line of readFileSync(".dev.vars", "utf8").split("\n")) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*"?([^"]*)"?\s*$/.exec(line);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

const SKIP = new Set(["node_modules", ".git", ".wrangler", "bench-results", "coverage"]);

/**
 * A private copy of the project for `wrangler dev` to serve: wrangler dev rebuilds and restarts the runtime
 * whenever a source file changes, so serving the live checkout while people edit it would drop every socket
 * mid-run. `ref` (a git ref) takes that commit instead of the working tree. node_modules is linked, not copied.
 */
export function snapshot({ dir, ref, patch }) {
  const root = process.cwd();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (ref) {
    const tar = spawnSync("git", ["archive", "--format=tar", ref], { maxBuffer: 1 << 30 });
    if (tar.status !== 0) throw new Error(`git archive ${ref} failed: ${tar.stderr}`);
    const untar = spawnSync("tar", ["-x", "-C", dir], { input: tar.stdout });
    if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr}`);
  } else {
    cpSync(root, dir, { recursive: true, filter: (src) => !SKIP.has(src.slice(root.length + 1).split("/")[0]) });
  }
  if (patch) {
    const applied = spawnSync("patch", ["-p1", "-d", dir, "-i", resolve(root, patch)], { encoding: "utf8" });
    if (applied.status !== 0) throw new Error(`patch ${patch} did not apply:\n${applied.stdout}${applied.stderr}`);
  }
  symlinkSync(resolve(root, "node_modules"), join(dir, "node_modules"));
  copyFileSync(join(root, ".dev.vars"), join(dir, ".dev.vars"));
  const rev = spawnSync("git", ["rev-parse", "--short", ref ?? "HEAD"], { encoding: "utf8" }).stdout.trim();
  const dirty = ref ? false : spawnSync("git", ["status", "--porcelain", "--", "src", "workers", "migrations", "wrangler.toml"], { encoding: "utf8" }).stdout.trim() !== "";
  const source = (ref ? `git ${ref} (${rev})` : `working tree at ${rev}${dirty ? " + uncommitted changes" : ""}`) + (patch ? ` + patch ${patch}` : "");
  return { dir, rev, dirty, source };
}

/** Fail early and clearly when a port is taken (wrangler dev would only log it and keep running). */
export async function assertPortFree(port, what) {
  await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", () => reject(new Error(`${what} port ${port} is in use; pick another (see --help)`)));
    server.listen(port, "127.0.0.1", () => server.close(resolve));
  });
}

export async function waitForHealth(base, child, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}${child.lastError ? `: ${child.lastError}` : ""}`);
    try {
      const res = await fetch(`${base}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${base}/health did not answer within ${timeoutMs / 1000} s`);
}

/**
 * Start `wrangler dev` on `port`. Its output goes to `logFile`. Returns a handle whose stop() ends the whole
 * process group we started (npx, wrangler, workerd) and nothing else.
 */
export async function startStack({ cwd, port, inspectorPort, persistTo, logFile }) {
  const host = "127.0.0.1";
  const base = `http://${host}:${port}`;
  await assertPortFree(port, "stack");
  await assertPortFree(inspectorPort, "inspector");
  if (existsSync(join(cwd, persistTo))) rmSync(join(cwd, persistTo), { recursive: true, force: true });
  const log = createWriteStream(logFile);
  const migrate = spawnSync("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo], {
    cwd,
    env,
    encoding: "utf8",
  });
  log.write(migrate.stdout ?? "");
  log.write(migrate.stderr ?? "");
  if (migrate.status !== 0) throw new Error(`d1 migrations failed (exit ${migrate.status}):\n${migrate.stderr}`);

  const child = spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--ip",
      host,
      "--port",
      String(port),
      "--inspector-port",
      String(inspectorPort),
      "--persist-to",
      persistTo,
      "--log-level",
      "warn",
      "--show-interactive-dev-session=false",
    ],
    { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  // Keep the first error wrangler prints, to say why it stopped.
  for (const stream of [child.stdout, child.stderr]) {
    stream.on("data", (chunk) => {
      // eslint-disable-next-line no-control-regex
      const m = /\[ERROR\]\s*(.*)/.exec(String(chunk).replace(/\x1b\[[0-9;]*m/g, ""));
      if (m && !child.lastError) child.lastError = m[1].trim();
    });
  }
  let known = [];
  const handle = {
    base,
    child,
    pid: child.pid,
    runtimePid: null,
    /** workerd processes of this stack (re-scanned, they appear a moment after wrangler starts). */
    workerd() {
      const pids = workerdPids(child.pid);
      if (pids.length) known = pids;
      return pids;
    },
    /**
     * The runtime's own entry port, behind wrangler's dev proxy (wrangler dev serves `port` from a proxy
     * workerd that forwards every request and every WebSocket frame to the user worker's workerd).
     */
    async directBase() {
      for (const pid of handle.workerd()) {
        for (const p of listeningPorts(pid)) {
          if (p === port || p === inspectorPort) continue;
          try {
            const res = await fetch(`http://${host}:${p}/health`, { signal: AbortSignal.timeout(2_000) });
            if (res.ok && (await res.text()).includes('"ok":true')) {
              handle.runtimePid = pid;
              return `http://${host}:${p}`;
            }
          } catch {
            // not an HTTP entry
          }
        }
      }
      return null;
    },
    /** Every process of this stack, wrangler's Node included. */
    all() {
      return [child.pid, ...descendants(child.pid)];
    },
    async stop() {
      const tree = [child.pid, ...descendants(child.pid), ...known];
      const signalAll = (sig) => {
        try {
          process.kill(-child.pid, sig); // our own process group (detached above)
        } catch {
          // already gone
        }
        for (const pid of tree) {
          try {
            process.kill(pid, sig);
          } catch {
            // already gone
          }
        }
      };
      signalAll("SIGTERM");
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && tree.some(alive)) await new Promise((r) => setTimeout(r, 100));
      if (tree.some(alive)) signalAll("SIGKILL");
      log.end();
    },
  };
  try {
    await waitForHealth(base, child);
    handle.direct = await handle.directBase();
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}
