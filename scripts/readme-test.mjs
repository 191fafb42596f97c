#!/usr/bin/env node
// The README's examples, run as a newcomer would: `npm run test:readme`.
//
// Starts the stack as `npm start` serves it (its own port and state directory) and the local receiver
// (`npm run push-receiver`, on a free port, exported as RECEIVER), then runs every ```sh block of README.md
// in order in one bash session (variables carry over) after `source <state>/demo.env`. Conventions:
//   ```sh          run (errexit, nounset, pipefail: any failing command fails the test)
//   ```sh no-test  not run (installs, long-running programs such as `npm start`, `npm run chat`)
//   ```text        right after a sh block: lines that must appear in that block's output, in that order;
//                  `…` in a line matches any text
// Before that, the README's Configuration table is checked against wrangler.toml and .dev.vars.example.
//   PORT  the stack's port (default 8797)   README  the file to run (default README.md)
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkConfiguration } from "./readme-config.mjs";

const ROOT = new URL("..", import.meta.url).pathname;
const README = process.env.README ?? join(ROOT, "README.md");
const PORT = Number(process.env.PORT ?? 8797);
/** A bound on one block (and on start-up), so a hung example fails instead of hanging CI; never a pass condition. */
const BLOCK_LIMIT_MS = 120_000;
const START_LIMIT_MS = 180_000;

/** Fenced blocks of a Markdown file: {lang, flags, body, line}, indentation of list items removed. */
export function fencedBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S*)\s*(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, lang, flags] = open;
    const body = [];
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j])) body.push(lines[j++].slice(indent.length));
    if (j === lines.length) throw new Error(`README line ${i + 1}: unclosed code block`);
    // Only blank lines between the previous block's end and this one's start: "right after".
    const prev = blocks.at(-1);
    const adjacent = prev !== undefined && lines.slice(prev.end + 1, i).every((l) => l.trim() === "");
    blocks.push({ lang, flags: flags.split(/\s+/).filter(Boolean), body: body.join("\n"), line: i + 1, end: j, adjacent });
    i = j;
  }
  return blocks;
}

/** The runnable examples: each sh block (not no-test) with the expected lines of the text block after it. */
export function examples(markdown) {
  const blocks = fencedBlocks(markdown);
  const out = [];
  blocks.forEach((b, k) => {
    if (b.lang !== "sh" || b.flags.includes("no-test")) return;
    const next = blocks[k + 1];
    const expect = next?.lang === "text" && next.adjacent ? next.body.split("\n").filter((l) => l.trim() !== "") : [];
    out.push({ line: b.line, script: b.body, expect });
  });
  return out;
}

/** Do the expected lines appear in the output, in order? `…` matches any text; surrounding spaces are ignored. */
export function matchLines(expected, output) {
  const got = output.split("\n").map((l) => l.trimEnd());
  let at = 0;
  for (const want of expected) {
    const re = new RegExp(`^${want.trim().split("…").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    while (at < got.length && !re.test(got[at].trim())) at++;
    if (at === got.length) return { ok: false, missing: want };
    at++;
  }
  return { ok: true };
}

/** Resolve with the first line of `stream` matching `re` (its match), or reject when `child` exits first. */
function waitForLine(child, stream, re, what, limitMs, log) {
  return new Promise((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`${what} not ready within ${limitMs / 1000} s`)), limitMs);
    const onData = (chunk) => {
      buffer += chunk;
      log?.(chunk);
      const m = re.exec(buffer);
      if (m) {
        clearTimeout(timer);
        stream.off("data", onData);
        if (log) stream.on("data", log);
        resolve(m);
      }
    };
    stream.setEncoding("utf8");
    stream.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before it was ready`));
    });
  });
}

/** One bash session; run(script) resolves with {status, output} per block, or status null if bash died. */
function bashSession(env) {
  const bash = spawn("bash", ["--noprofile", "--norc"], { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe", "pipe"] });
  bash.stdout.on("data", (d) => process.stdout.write(d));
  bash.stderr.on("data", (d) => process.stderr.write(d));
  // A block that kills the session leaves a closed stdin: the exit handler reports it, not EPIPE.
  bash.stdin.on("error", () => {});
  const control = bash.stdio[3];
  control.setEncoding("utf8");
  let pending;
  let buffer = "";
  control.on("data", (chunk) => {
    buffer += chunk;
    const m = /^done (\d+)\n/.exec(buffer);
    if (m && pending) {
      buffer = buffer.slice(m[0].length);
      pending.resolve(Number(m[1]));
    }
  });
  bash.on("exit", () => pending?.resolve(null));
  const dir = mkdtempSync(join(tmpdir(), "readme-blocks-"));
  let n = 0;
  return {
    bash,
    dir,
    async run(script) {
      const file = join(dir, `block-${++n}.sh`);
      const out = join(dir, `block-${n}.out`);
      writeFileSync(file, `${script}\n`);
      const status = new Promise((resolve) => (pending = { resolve }));
      // errexit ends the whole session at the first failing command: that block fails the test.
      bash.stdin.write(`set -euo pipefail; source ${file} > ${out} 2>&1 < /dev/null; set +e; echo "done 0" >&3\n`);
      let timer;
      const limit = new Promise((resolve) => (timer = setTimeout(() => resolve("timeout"), BLOCK_LIMIT_MS)));
      const result = await Promise.race([status, limit]);
      clearTimeout(timer);
      const output = existsSync(out) ? readFileSync(out, "utf8") : "";
      return { status: result, output };
    },
  };
}

function stop(child) {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    return exited;
  }
  return Promise.resolve();
}

async function main() {
  const markdown = readFileSync(README, "utf8");
  const config = checkConfiguration(markdown, readFileSync(join(ROOT, "wrangler.toml"), "utf8"), readFileSync(join(ROOT, ".dev.vars.example"), "utf8"));
  if (config.length > 0) {
    console.error(`README Configuration table disagrees with wrangler.toml / .dev.vars.example:\n  ${config.join("\n  ")}`);
    process.exit(1);
  }
  const runs = examples(markdown);
  console.log(`README: ${runs.length} examples to run; Configuration table matches wrangler.toml and .dev.vars.example`);

  const state = mkdtempSync(join(tmpdir(), "readme-state-"));
  const env = { ...process.env, PORT: String(PORT), INSPECTOR_PORT: "off", SWITCHBOARD_WATCH: "off", SWITCHBOARD_STATE: state };
  const children = [];
  let session;
  let failed = false;
  try {
    const stack = spawn(process.execPath, [join(ROOT, "scripts/start.mjs")], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    children.push(stack);
    let stackLog = "";
    stack.stderr.on("data", (d) => (stackLog += d));
    await waitForLine(stack, stack.stdout, /Switchboard is running on (\S+)/, "npm start", START_LIMIT_MS, (d) => (stackLog += d)).catch((err) => {
      throw new Error(`${err.message}\n${stackLog.slice(-4000)}`);
    });
    const receiver = spawn(process.execPath, [join(ROOT, "scripts/push-receiver.mjs")], { cwd: ROOT, env: { ...env, PUSH_RECEIVER_PORT: "0" }, stdio: ["ignore", "pipe", "inherit"] });
    children.push(receiver);
    const [, receiverUrl] = await waitForLine(receiver, receiver.stdout, /listening on (http:\/\/\S+)/, "push receiver", 30_000, (d) => process.stdout.write(`  receiver: ${d}`));

    session = bashSession({ ...env, RECEIVER: receiverUrl });
    const setup = await session.run(`source ${join(state, "demo.env")}`);
    if (setup.status !== 0) throw new Error(`source demo.env failed: ${setup.output}`);

    for (const [i, ex] of runs.entries()) {
      const where = `README.md:${ex.line} (example ${i + 1} of ${runs.length})`;
      const { status, output } = await session.run(ex.script);
      if (status !== 0) {
        const why = status === "timeout" ? `did not finish within ${BLOCK_LIMIT_MS / 1000} s` : status === null ? "failed (a command exited non-zero)" : `exited ${status}`;
        throw new Error(`${where} ${why}:\n${ex.script}\n--- output ---\n${output}`);
      }
      const match = matchLines(ex.expect, output);
      if (!match.ok) throw new Error(`${where}: the output lacks (in order) the line\n  ${match.missing}\n${ex.script}\n--- output ---\n${output}`);
      console.log(`ok ${i + 1} README.md:${ex.line}${ex.expect.length ? ` (${ex.expect.length} lines matched)` : ""}`);
    }
    console.log(`README: all ${runs.length} examples ran and printed what the README says`);
  } catch (err) {
    failed = true;
    console.error(`\nREADME test failed: ${err.message}`);
  } finally {
    if (session) {
      session.bash.stdin.end();
      await stop(session.bash);
      rmSync(session.dir, { recursive: true, force: true });
    }
    // Anything an example left running in the background was started by that bash; the receiver and stack are ours.
    for (const child of children.reverse()) await stop(child);
    rmSync(state, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
