/**
 * The stack as `npm start` serves it, on its own port and with its own state directory, for the
 * browser tests; and Chromium from the system (browser downloads are not possible on CI machines).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const PORT = Number(process.env.BROWSER_TEST_PORT ?? 8788);
export const BASE = `http://127.0.0.1:${PORT}`;
const ROOT = path.resolve(import.meta.dirname, "../..");

export interface Stack {
  links: Record<string, string>;
  tokens: Record<string, string>;
  apiKey: string;
  groupId: string;
  directId: string;
  stop: () => Promise<void>;
}

/** `npm start` on PORT with a fresh state directory; resolves once it has printed the sign-in links. */
export async function startStack(): Promise<Stack> {
  const state = mkdtempSync(path.join(tmpdir(), "switchboard-browser-"));
  const child = spawn("npm", ["start"], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(PORT), INSPECTOR_PORT: String(PORT + 1000), SWITCHBOARD_STATE: state },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  const stop = async () => {
    await killGroup(child);
    rmSync(state, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not print sign-in links within 180 s:\n${output.slice(-3000)}`)), 180_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (/^\s+carol\s+http\S+#token=\S+$/m.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited with ${code}:\n${output.slice(-3000)}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const links: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  for (const m of output.matchAll(/^\s+(alice|bob|carol)\s+(http\S+#token=(\S+))$/gm)) {
    links[m[1]!] = m[2]!;
    tokens[m[1]!] = m[3]!;
  }
  const field = (re: RegExp) => re.exec(output)?.[1] ?? "";
  return {
    links,
    tokens,
    apiKey: field(/tenant api key\s*:\s*(\S+)/),
    groupId: field(/group "Sales team":\s*(\S+)/),
    directId: field(/alice<->bob direct:\s*(\S+)/),
    stop,
  };
}

async function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
}

/** A browser context (its own cookies and storage: a separate person) signed in through the link. */
export async function signedIn(browser: Browser, link: string, options: { locale?: string; colorScheme?: "light" | "dark" } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 }, locale: options.locale ?? "en-US", colorScheme: options.colorScheme ?? "light" });
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`page error: ${err.message}`));
  await page.goto(link);
  await page.getByRole("navigation").getByRole("button").nth(1).waitFor();
  return { context, page };
}

/** Call the API as the tenant backend or a user. */
export async function api<T>(method: string, pathname: string, bearer: string, body?: unknown): Promise<T> {
  const res = await fetch(`${BASE}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${pathname} -> ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Deliver one event to a Standard Webhooks integration, signed as the spec says. */
export async function deliverStandardWebhook(url: string, secret: string, payload: unknown): Promise<Response> {
  const id = `msg_${randomUUID()}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const body = JSON.stringify(payload);
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  return fetch(new URL(url, BASE), {
    method: "POST",
    headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": `v1,${signature}` },
    body,
  });
}
