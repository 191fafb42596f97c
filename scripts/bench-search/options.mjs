// The options of `npm run bench:search`: the help text, the parsing and the settings derived from them.
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";

const HELP = `npm run bench:search -- [options]
  --messages N          messages to seed into one tenant (default 1000000)
  --queries N           measured queries per query kind and concurrency level (default 200)
  --concurrency 1,4     concurrency levels for the HTTP search runs (default 1,4)
  --seed-concurrency N  conversation backlogs mirrored side by side while seeding (default 2)
  --e2e-rates R,R       offered send rates (messages/s) for the end-to-end WebSocket run, 0 to skip (default 250,500,1000,2500)
  --e2e-seconds S       seconds of sending per rate (default 4)
  --port P              wrangler dev port (default 8793; never 8787); inspector port defaults to P+1000
  --dir D               working directory: project snapshot + D1 state (default /tmp/switchboard-bench-search-<port>)
  --keep                keep the seeded database afterwards (for --reuse)
  --reuse               reuse a kept database with the same --messages and --seed (skips seeding)
  --seed N              corpus seed (default 1)
  --ref R               benchmark git ref R (e.g. HEAD) instead of the working tree
  --out F               results JSON (default bench-results/search-<time>.json)`;

/**
 * The command line's options, checked, with their derived paths; `started` names the default results file.
 * Prints the help and exits for --help.
 */
export function searchOptions(started) {
  const { values: opt } = parseArgs({
    options: {
      messages: { type: "string", default: "1000000" },
      port: { type: "string", default: "8793" },
      "inspector-port": { type: "string" },
      dir: { type: "string" },
      seed: { type: "string", default: "1" },
      queries: { type: "string", default: "200" },
      concurrency: { type: "string", default: "1,4" },
      "seed-concurrency": { type: "string", default: "2" },
      "e2e-rates": { type: "string", default: "250,500,1000,2500" },
      "e2e-seconds": { type: "string", default: "4" },
      keep: { type: "boolean", default: false },
      reuse: { type: "boolean", default: false },
      out: { type: "string" },
      ref: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });

  if (opt.help) {
    console.log(HELP);
    process.exit(0);
  }

  const N = Number(opt.messages);
  if (!Number.isInteger(N) || N < 1_000) throw new Error("--messages must be an integer >= 1000");
  const PORT = Number(opt.port);
  if (PORT === 8787) throw new Error("port 8787 is reserved for the developer's own stack; pick another");
  const INSPECTOR = Number(opt["inspector-port"] ?? PORT + 1000);
  const SEED = Number(opt.seed);
  const QUERIES = Number(opt.queries);
  const LEVELS = opt.concurrency.split(",").map(Number);
  const SEED_CONCURRENCY = Number(opt["seed-concurrency"]);
  const E2E_RATES = opt["e2e-rates"].split(",").map(Number).filter((r) => r > 0);
  const E2E_SECONDS = Number(opt["e2e-seconds"]);
  const DIR = resolve(opt.dir ?? `/tmp/switchboard-bench-search-${PORT}`);
  const STATE = join(DIR, "state");
  const META = join(STATE, "bench-meta.json");
  const OUT = opt.out ?? `bench-results/search-${started.toISOString().replace(/[:.]/g, "-")}.json`;
  return { opt, N, PORT, INSPECTOR, SEED, QUERIES, LEVELS, SEED_CONCURRENCY, E2E_RATES, E2E_SECONDS, DIR, STATE, META, OUT };
}
