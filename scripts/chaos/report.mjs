// The chaos run's figures and checks, printed at the end. The last line is "N passed, M failed".

const n = (x) => (x ?? 0).toLocaleString("en-US");
const s = (ms) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`);

/** Print figures and checks; returns the number of failed checks. */
export function printReport({ plan, seed, stats, run, began, log, checks = run?.checks ?? [] }) {
  const f = run?.figures ?? { restarts: [], idles: [] };
  const duration = Date.now() - began;
  const messages = stats.sent.ws + stats.sent.http;
  const resends = stats.resends.sdk + stats.resends.injected + stats.resends.http;
  const downs = f.restarts.map((r) => `${s(r.downMs)}${r.signal === "SIGKILL" ? " after a kill" : ""}`).join(", ");
  log("");
  log(`chaos ${plan.name} form, seed ${seed}`);
  log(`  duration        ${s(duration)} (first stack start ${s(f.firstStartMs)}, traffic ${s(f.trafficMs)}, drain ${s(f.drainMs)}, ${f.rounds ?? 0} rounds)`);
  log(`  conversations   ${run?.ledgers.length ?? 0}, devices ${run?.devices.length ?? 0}, HTTP senders ${run?.senders.length ?? 0}`);
  log(`  messages        ${n(messages)} sent (${n(stats.sent.ws)} over WebSockets, ${n(stats.sent.http)} over HTTP), ${n(f.messages)} stored`);
  log(`  deliveries      ${n(stats.deliveries)}`);
  log(`  lost            ${stats.lost === undefined ? "not checked (the run stopped before its checks)" : n(stats.lost)}`);
  log(`  duplicated      ${n(stats.duplicated)}`);
  log(`  reordered       ${n(stats.reordered)}`);
  log(`  reconnects      ${n(stats.reconnects)} (${n(stats.disconnects)} disconnects injected, of them ${n(stats.clientRestarts)} client restarts; ${n(stats.silentReplaced)} silent sockets replaced by the SDK; ${n(stats.sockets)} sockets opened)`);
  log(`  restarts        ${n(stats.restarts)} of the whole stack${downs ? ` (down ${downs})` : ""}`);
  log(`  idle periods    ${f.idles.length ? f.idles.map(s).join(", ") : "none"}`);
  log(`  re-sends        ${n(resends)} (${n(stats.resends.sdk)} by the SDK after reconnects and client restarts, ${n(stats.resends.injected)} duplicate frames, ${n(stats.resends.http)} HTTP retries and copies of socket sends)`);
  log(`  rate limited    ${n(stats.rateLimited)} answers`);
  log(`  mirror catch-up ${f.mirrorMs === undefined ? "did not agree" : `${n(f.mirrorMs)} ms`} (conversation lists), search ${f.searchMs === undefined ? "did not agree" : `${n(f.searchMs)} ms`}`);
  log("");
  let failed = 0;
  for (const c of checks) {
    if (!c.ok) failed += 1;
    log(`  ${c.ok ? "ok  " : "FAIL"} ${c.name}${c.detail ? ` (${c.detail})` : ""}`);
  }
  for (const [kind, v] of stats.violations) {
    log(`  violation: ${kind} x${v.count}`);
    for (const e of v.examples.slice(0, 5)) log(`      ${e}`);
  }
  log("");
  console.log(`${checks.length - failed} passed, ${failed} failed`);
  return failed;
}
