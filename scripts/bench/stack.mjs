// The local edge stack for the benchmark: secrets, D1 migrations and `wrangler dev` on a port of our own,
// with state in a directory of our own, so a stack someone else runs in this checkout is left alone. The bare
// Durable Object room (scripts/bench/baseline-do) is served the same way, from a private copy of its own.
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { assertPortFree, copyProject, migrate, startWranglerDev } from "../lib/stack.mjs";

/** What to do about a port that is taken. */
export const PORT_HINT = "pick another (see --help)";

/**
 * A private copy of the project for `wrangler dev` to serve (see copyProject), with the checkout's .dev.vars.
 * `ref` (a git ref) takes that commit instead of the working tree; `patch` is applied on top.
 */
export function snapshot({ dir, ref, patch }) {
  const { rev, dirty } = copyProject(dir, { ref });
  if (patch) {
    const applied = spawnSync("patch", ["-p1", "-d", dir, "-i", resolve(patch)], { encoding: "utf8" });
    if (applied.status !== 0) throw new Error(`patch ${patch} did not apply:\n${applied.stdout}${applied.stderr}`);
  }
  copyFileSync(".dev.vars", join(dir, ".dev.vars"));
  // The runtime wants the web app's asset directory to exist; the benchmark never loads the app.
  mkdirSync(join(dir, "web", "dist"), { recursive: true });
  const source = (ref ? `git ${ref} (${rev})` : `working tree at ${rev}${dirty ? " + uncommitted changes" : ""}`) + (patch ? ` + patch ${patch}` : "");
  return { dir, rev, dirty, source };
}

/** Where the bare Durable Object room's Worker and wrangler.toml live in the checkout. */
export const BARE_DO_SOURCE = "scripts/bench/baseline-do";

/**
 * A private copy of the bare Durable Object room (BARE_DO_SOURCE) in `dir` (emptied first), with the checkout's
 * node_modules linked in, so `npx wrangler` there runs the project's wrangler. Returns the compatibility dates of
 * the copy and of the checkout's own wrangler.toml (`project`), for the run to say when they differ.
 */
export function bareDoCopy(dir) {
  rmSync(dir, { recursive: true, force: true });
  cpSync(BARE_DO_SOURCE, dir, { recursive: true });
  symlinkSync(resolve("node_modules"), join(dir, "node_modules"));
  const dateOf = (file) => /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(file, "utf8"))?.[1] ?? null;
  return { dir, compatibilityDate: dateOf(join(dir, "wrangler.toml")), project: dateOf("wrangler.toml") };
}

/**
 * Migrate a fresh `persistTo` (relative to `cwd`, or absolute) and start `wrangler dev` on `port`, its output
 * into `logFile`. The handle (see startWranglerDev) also knows the runtime's own entry: `direct`.
 * `migrations: false` skips the D1 migrations (a Worker without D1: the bare Durable Object room).
 */
export async function startStack({ cwd, port, inspectorPort, persistTo, logFile, migrations = true }) {
  await assertPortFree(port, "stack", PORT_HINT);
  await assertPortFree(inspectorPort, "inspector", PORT_HINT);
  if (existsSync(join(cwd, persistTo))) rmSync(join(cwd, persistTo), { recursive: true, force: true });
  const log = createWriteStream(logFile);
  let stack;
  try {
    if (migrations) migrate({ cwd, persistTo, log });
    stack = await startWranglerDev({ cwd, port, inspectorPort, persistTo, log, portHint: PORT_HINT });
  } catch (err) {
    log.end();
    throw err;
  }
  const stop = stack.stop;
  stack.stop = async () => {
    await stop();
    log.end();
  };
  stack.direct = await stack.directBase();
  return stack;
}
