#!/usr/bin/env node
// Local edge stack: secrets, D1 migrations, the Worker under wrangler's dev server, and an idempotent
// demo tenant whose credentials land in .wrangler/demo.json and .wrangler/demo.env.
//   PORT            HTTP port (default 8787)
//   INSPECTOR_PORT  DevTools inspector port (default PORT + 1000; "off" disables it)
//   SWITCHBOARD_STATE  directory for local data and the demo files (default .wrangler)
//   SWITCHBOARD_WATCH  "off": do not rebuild and reload when a source file changes (the README test)
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { unstable_startWorker as startWorker } from "wrangler";
import { HOST, WRANGLER_ENV, ensureDevVars, migrate } from "./lib/stack.mjs";

const PORT = Number(process.env.PORT ?? 8787);
const BASE = `http://${HOST}:${PORT}`;
const INSPECTOR = process.env.INSPECTOR_PORT === "off" ? false : { hostname: HOST, port: Number(process.env.INSPECTOR_PORT ?? PORT + 1000) };
const STATE_DIR = process.env.SWITCHBOARD_STATE ?? ".wrangler";
const PERSIST = join(STATE_DIR, "state");
const DEMO_JSON = join(STATE_DIR, "demo.json");
const DEMO_ENV = join(STATE_DIR, "demo.env");
const WATCH = process.env.SWITCHBOARD_WATCH !== "off";

/**
 * Every non-empty value of .dev.vars as a secret binding. wrangler.toml's `[secrets] required` makes
 * wrangler load only the required names from .dev.vars, which would silently drop the optional push
 * secrets (VAPID_*, FCM_*, APNS_*); bindings given here reach the Worker as they would in production.
 */
function secretBindings(vars) {
  return Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== "").map(([k, v]) => [k, { type: "secret_text", value: v }]));
}

async function call(method, path, token, body) {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  return { status: res.status, data };
}

async function must(method, path, token, body, ok = [200, 201]) {
  const res = await call(method, path, token, body);
  if (!ok.includes(res.status)) throw new Error(`${method} ${path} -> ${res.status} ${JSON.stringify(res.data)}`);
  return res.data;
}

function readDemo() {
  try {
    return JSON.parse(readFileSync(DEMO_JSON, "utf8"));
  } catch {
    return undefined;
  }
}

/** The demo tenant's api key: the one written last time while it still works, else a new one. */
async function demoApiKey(adminToken) {
  const created = await call("POST", "/v1/tenants", adminToken, { id: "demo", name: "Demo Corp" });
  if (created.status === 201) return created.data.apiKey;
  if (created.status !== 409) throw new Error(`creating the demo tenant failed: ${created.status} ${JSON.stringify(created.data)}`);
  const stored = readDemo();
  if (stored?.tenant === "demo" && typeof stored.apiKey === "string") {
    const probe = await call("GET", "/v1/conversations?limit=1", stored.apiKey);
    if (probe.status === 200) return stored.apiKey;
  }
  return (await must("POST", "/v1/tenants/demo/api-keys", adminToken)).apiKey;
}

/** Seed the demo tenant. Safe to run again: the tenant and its key are reused, users are upserted. */
async function seed(adminToken) {
  const apiKey = await demoApiKey(adminToken);
  const people = {
    alice: { name: "Alice Martin", title: "Account Executive" },
    bob: { name: "Bob Chen", title: "Sales Engineer" },
    carol: { name: "Carol Diaz", title: "Sales Manager" },
  };
  for (const [id, profile] of Object.entries(people)) await must("PUT", `/v1/users/${id}`, apiKey, profile);

  const { conversations } = await must("GET", "/v1/conversations", apiKey);
  let group = conversations.find((c) => c.type === "group" && c.name === "Sales team");
  if (!group) group = await must("POST", "/v1/conversations", apiKey, { type: "group", name: "Sales team", members: Object.keys(people) });

  const tokens = {};
  for (const id of Object.keys(people)) tokens[id] = (await must("POST", `/v1/users/${id}/tokens`, apiKey, { ttlSeconds: 7 * 24 * 3600 })).token;
  const direct = await must("POST", "/v1/conversations", tokens.alice, { type: "direct", with: "bob" });
  const demo = { base: BASE, tenant: "demo", apiKey, groupId: group.id, directId: direct.id, tokens };
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(DEMO_JSON, JSON.stringify(demo, null, 2), { mode: 0o600 });
  const exports = { BASE, ADMIN: adminToken, KEY: apiKey, ALICE: tokens.alice, BOB: tokens.bob, CAROL: tokens.carol, GROUP: group.id };
  writeFileSync(
    DEMO_ENV,
    `# Written by npm start: the demo tenant for the README's examples. Use it with: source ${DEMO_ENV}\n` +
      Object.entries(exports).map(([k, v]) => `export ${k}='${v}'`).join("\n") +
      "\n",
    { mode: 0o600 },
  );
  return demo;
}

function banner(demo) {
  console.log(`
Switchboard is running on ${BASE}  (demo tenant "demo"; details in ${DEMO_JSON})

  tenant api key : ${demo.apiKey}
  group "Sales team": ${demo.groupId}      alice<->bob direct: ${demo.directId}

In another terminal, load the demo's credentials and try the README's examples:
  source ${DEMO_ENV}        # BASE, ADMIN, KEY, ALICE, BOB, CAROL, GROUP
  curl -fsS $BASE/v1/conversations -H "Authorization: Bearer $ALICE"
  # chat live between two terminals:
  npm run chat -- alice
  npm run chat -- bob
`);
}

/** One ready link per demo user: the token rides in the fragment, which never reaches the server. */
function printSignInLinks(demo) {
  console.log("Open the web app (one link per person, each in its own tab):");
  for (const [user, token] of Object.entries(demo.tokens)) console.log(`  ${user.padEnd(6)} ${BASE}/#token=${token}`);
  console.log("");
}

// The web app (web/) is built into web/dist, which the Worker serves as static assets.
const build = spawnSync("npx", ["vite", "build", "--config", "web/vite.config.ts", "--logLevel", "warn"], { stdio: "inherit", env: WRANGLER_ENV });
if (build.status !== 0) process.exit(build.status ?? 1);

const vars = ensureDevVars();
try {
  migrate({ persistTo: PERSIST });
} catch (err) {
  console.error(`start failed: ${err.message}`);
  process.exit(1);
}

process.env.WRANGLER_SEND_METRICS = "false";
let worker;
try {
  worker = await startWorker({
    config: "wrangler.toml",
    bindings: secretBindings(vars),
    dev: { server: { hostname: HOST, port: PORT }, inspector: INSPECTOR, persist: PERSIST, watch: WATCH },
  });
  await worker.ready;
  const health = await fetch(`${BASE}/health`);
  if (!health.ok) throw new Error(`${BASE}/health answered ${health.status}`);
  const demo = await seed(vars.ADMIN_TOKEN);
  banner(demo);
  printSignInLinks(demo);
} catch (err) {
  console.error(`start failed: ${err.message}`);
  await worker?.dispose();
  process.exit(1);
}

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await worker.dispose();
    process.exit(0);
  });
}
