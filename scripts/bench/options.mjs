// The options of `npm run bench`: the help text, the parsing, the settings every scenario shares and the
// scenarios a run selects (--quick and the shape options applied).

export const HELP = `npm run bench -- [options]

  --only A,B,C,D,E,P    scenarios to run (default A,B,C,D,E; P is the device-channel and push scenario)
  --quick               short smoke run (about 5 minutes): 3 s of load, C with 20 rooms, D with 500 sockets,
                        E with 200 sockets, P with 300 channels
  --state disk,memory   where the runtime keeps its local state (default both: a stack per state, the memory
                        one with \`wrangler dev --persist-to\` on /dev/shm)
  --via dev,direct      which port of each stack (default both): wrangler dev's proxy port, or the runtime's
                        own entry behind it (what production has: no dev proxy)
  --port N              the disk stack's port (default 8806); the memory stack takes N+1; inspectors N+1000
                        and N+1001 (--inspector-port; the bare DO's takes --inspector-port + 2)
  --baseline-port N     port of the bare ws server (default N+3)
  --bare-do-port N      wrangler dev port of the bare Durable Object room (default N+2); it
                        is measured on the runtime's own port behind it, found at start
  --no-bare-do          skip the bare Durable Object room (a minimal DO chat room on the same runtime,
                        scripts/bench/baseline-do: what the runtime itself costs)
  --no-baseline         skip both floors: the bare DO room and the bare ws server
  --ref REF             serve this git ref (e.g. HEAD) instead of the working tree
  --apply FILE          apply this patch (patch -p1) to the served copy, e.g. to measure a proposed change
  --rooms N --clients N --senders N --mode closed|rate|none --rate N (msgs/s per room)
  --payload BYTES --duration S
                        override the shape of every selected scenario (P takes --rate as msgs/s per group,
                        --payload and --duration; the others do not apply to it)
  P (device channels, notify and push):
  --channels N --groups N --online-per-group N --offline N --push-online N --push-wait S --storm-quiet S
                        (defaults 2000, 10, 150, 50, 50, 60, 3; see docs/benchmarks.md)
  --no-rotate           closed loop: each sender uses one socket (one device) instead of taking turns
  --repeat N            run every scenario N times (targets interleaved) and report the median run
  --quiet PCT           before each run wait (up to --quiet-wait S, default 30) until processes other than
                        the bench's own use less than PCT% of a core (default 25; 0 = do not wait)
  --drain S             seconds after the load for acks and deliveries to arrive on time (default 5): what has
                        not arrived by then is "undelivered"
  --late S              seconds more to wait for late ones before counting them lost (default 30)
  --warmup S            closed-loop warm-up of each target before the scenarios (default 2, 0 = none)
  --cpu-profile         profile the memory stack's Worker isolate during each load on its ports; writes
                        bench-results/<scenario>.cpuprofile and prints the top functions. The profiler slows
                        the isolate: use such a run to see where time goes, not for figures.
  --no-probe            skip the unloaded round-trip probe (ping / typing / send on a 50-socket conversation)
  --connect-concurrency N  handshakes in flight at once (default 500)
  --out FILE            JSON result file (default bench-results/bench-<time>.json)
  --max-minutes N       stop (and clean up) a run that takes longer than this (default 120; 30 with --quick)

Everything listens on and talks to 127.0.0.1 only. The run stops by itself and removes its processes, the
snapshots of the project and the state directories (also on Ctrl-C).
`;

/** `--key value`, `--key=value`, and the flags that take no value. */
export function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new Error(`unexpected argument ${arg}`);
    const eq = arg.indexOf("=");
    const key = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (eq > 0) opts[key] = arg.slice(eq + 1);
    else if (["quick", "no-baseline", "no-bare-do", "no-rotate", "no-probe", "cpu-profile", "help"].includes(key)) opts[key] = true;
    else opts[key] = argv[++i];
  }
  return opts;
}

const num = (v, d) => (v === undefined ? d : Number(v));
const list = (v, d) => (v ?? d).split(",").map((s) => s.trim()).filter(Boolean);

/** The settings of the whole run, checked. */
export function settings(args) {
  const port = num(args.port, 8806);
  const baselinePort = num(args["baseline-port"], port + 3);
  const bareDoPort = num(args["bare-do-port"], port + 2);
  if ([port, port + 1, baselinePort, bareDoPort].includes(8787)) throw new Error("port 8787 belongs to someone else's stack; pick another");
  const inspectorPort = num(args["inspector-port"], port + 1_000);
  const quick = Boolean(args.quick);
  const drain = num(args.drain, 5);
  const late = num(args.late, 30);
  const warmup = num(args.warmup, 2);
  const connectConcurrency = num(args["connect-concurrency"], 500);
  const rotate = !args["no-rotate"];
  const repeat = Math.max(1, num(args.repeat, 1));
  const quietPercent = num(args.quiet, 25);
  const quietWaitMs = num(args["quiet-wait"], 30) * 1000;
  const pushWait = num(args["push-wait"], 60);
  const states = list(args.state, "disk,memory");
  const vias = list(args.via, "dev,direct");
  for (const s of states) if (!["disk", "memory"].includes(s)) throw new Error(`--state: unknown ${s}`);
  for (const v of vias) if (!["dev", "direct"].includes(v)) throw new Error(`--via: unknown ${v}`);
  const maxMinutes = num(args["max-minutes"], quick ? 30 : 120);
  const stormQuiet = num(args["storm-quiet"], 3);
  return { port, baselinePort, bareDoPort, inspectorPort, quick, drain, late, warmup, connectConcurrency, rotate, repeat, quietPercent, quietWaitMs, pushWait, states, vias, maxMinutes, stormQuiet };
}

const SCENARIOS = {
  A: { title: "1 conversation x 50 clients, 10 closed-loop senders (one in flight each, rotating devices)", rooms: 1, clients: 50, mode: "closed", senders: 10, rate: 0 },
  B: { title: "1 conversation x 50 clients, 200 msg/s open loop (5 senders x 40/s)", rooms: 1, clients: 50, mode: "rate", senders: 5, rate: 200 },
  C: { title: "100 conversations x 10 clients, 10 msg/s each (1,000 msg/s)", rooms: 100, clients: 10, mode: "rate", senders: 10, rate: 10 },
  D: { title: "2,000 sockets over 200 conversations: all open and ready", rooms: 200, clients: 10, mode: "none", senders: 0, rate: 0 },
  E: { title: "1,000 sockets in one conversation (999 members), 5 msg/s", rooms: 1, clients: 1_000, mode: "rate", senders: 5, rate: 5 },
  P: {
    title: "2,000 device channels; 10 groups of 200 users (150 online + 50 offline with webhook push) + bot, 1 msg/s per group",
    presence: true,
    channels: 2_000,
    groups: 10,
    onlinePerGroup: 150,
    offline: 50,
    pushOnline: 50,
    rate: 1,
  },
};

/** The scenarios of `--only` (default A to E), shaped by --quick and the shape options. */
export function selectScenarios(args, { quick, rotate, runId }) {
  const selected = list(args.only, "A,B,C,D,E").map((s) => s.toUpperCase());
  for (const name of selected) if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}`);
  return selected.map((name) => {
    const base = { name, ...SCENARIOS[name], payload: 100, duration: name === "D" ? 0 : 10 };
    if (quick) {
      if (base.mode !== "none") base.duration = 3;
      if (name === "C") base.rooms = 20;
      if (name === "D") base.rooms = 50;
      if (name === "E") base.clients = 200;
    }
    if (base.presence) {
      base.duration = quick ? 5 : 10;
      if (quick) Object.assign(base, { channels: 300, groups: 2, pushOnline: 10 });
      const p = {
        channels: args.channels && num(args.channels),
        groups: args.groups && num(args.groups),
        onlinePerGroup: args["online-per-group"] && num(args["online-per-group"]),
        offline: args.offline && num(args.offline),
        pushOnline: args["push-online"] && num(args["push-online"]),
        rate: args.rate && num(args.rate),
        payload: args.payload && num(args.payload),
        duration: args.duration && num(args.duration),
      };
      for (const [k, v] of Object.entries(p)) if (v !== undefined) base[k] = v;
      base.title =
        `${base.channels.toLocaleString("en-US")} device channels; ${base.groups} group${base.groups === 1 ? "" : "s"} of ` +
        `${Math.min(base.onlinePerGroup, base.channels) + base.offline} users (${Math.min(base.onlinePerGroup, base.channels)} online + ${base.offline} offline with webhook push) + bot, ` +
        `${base.rate} msg/s per group for ${base.duration} s`;
      return base;
    }
    const o = {
      rooms: args.rooms && num(args.rooms),
      clients: args.clients && num(args.clients),
      senders: args.senders && num(args.senders),
      mode: args.mode,
      rate: args.rate && num(args.rate),
      payload: args.payload && num(args.payload),
      duration: args.duration && num(args.duration),
    };
    for (const [k, v] of Object.entries(o)) if (v !== undefined) base[k] = v;
    if (base.mode === "rate") base.senders = Math.min(base.senders, base.clients);
    if (quick || Object.values(o).some((v) => v !== undefined)) base.title += ` [${base.rooms} x ${base.clients}, ${base.mode}${base.mode === "rate" ? ` ${base.rate}/s per room` : ""}, ${base.duration} s]`;
    if (base.mode === "closed" && !rotate) base.title += " (one socket, no rotation)";
    // Search finds a run's messages by this word (scenario C's catch-up check).
    base.marker = `bm${runId}${name}`.toLowerCase();
    return base;
  });
}
