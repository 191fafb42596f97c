// The local edge stack for the benchmark: secrets, D1 migrations and `wrangler dev` on a port of our own,
// with state in a directory of our own, so a stack someone else runs in this checkout is left alone.
import { spawnSync } from "node:child_process";
import { copyFileSync, createWriteStream, existsSync, mkdirSync, rmSync } from "node:fs";
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

/**
 * Migrate a fresh `persistTo` (relative to `cwd`, or absolute) and start `wrangler dev` on `port`, its output
 * into `logFile`. The handle (see startWranglerDev) also knows the runtime's own entry: `direct`.
 */
export async function startStack({ cwd, port, inspectorPort, persistTo, logFile }) {
  await assertPortFree(port, "stack", PORT_HINT);
  await assertPortFree(inspectorPort, "inspector", PORT_HINT);
  if (existsSync(join(cwd, persistTo))) rmSync(join(cwd, persistTo), { recursive: true, force: true });
  const log = createWriteStream(logFile);
  let stack;
  try {
    migrate({ cwd, persistTo, log });
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
